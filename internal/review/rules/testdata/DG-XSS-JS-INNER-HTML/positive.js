el.innerHTML = userComment;
div.innerHTML = `<p>${name}</p>`;
node.outerHTML = "<b>" + title + "</b>";
list.innerHTML += item;
