document.write(html);
document.writeln("<p>" + msg + "</p>");
