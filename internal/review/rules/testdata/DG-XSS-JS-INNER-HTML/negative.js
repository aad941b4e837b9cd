el.innerHTML = "";
el.innerHTML = "<b>Loading</b>";
el.textContent = userComment;
el.innerHTML = DOMPurify.sanitize(html);
if (el.innerHTML === "") {
