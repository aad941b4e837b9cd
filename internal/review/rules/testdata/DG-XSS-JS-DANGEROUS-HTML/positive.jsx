<div dangerouslySetInnerHTML={{ __html: post.body }} />
return { dangerouslySetInnerHTML: { __html: html } };
