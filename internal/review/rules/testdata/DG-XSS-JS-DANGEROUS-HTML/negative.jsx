<div dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(post.body) }} />
<div>{post.body}</div>
