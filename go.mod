module github.com/diffgate/diffgate

go 1.26.8
