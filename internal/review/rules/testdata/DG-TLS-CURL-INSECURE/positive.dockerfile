RUN curl -k -o /tmp/app.tgz https://example.com/app.tgz
