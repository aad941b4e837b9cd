package rules

import (
	"path"
	"strings"
)

// lang is a set of languages; a file has exactly one.
type lang uint16

const (
	langOther  lang = 1 << iota
	langGo          // .go
	langPython      // .py
	langJS          // JavaScript and TypeScript
	langShell       // sh, bash, zsh and their rc files
	langDocker      // Dockerfile, Containerfile
	langYAML        // .yml, .yaml (CI pipelines run shell from here)
	langMake        // Makefile
	langConfig      // .env, .ini, .properties, .conf, .cfg, .toml

	langAll lang = 1<<iota - 1
	// langShellish holds every file that runs shell commands.
	langShellish = langShell | langDocker | langYAML | langMake
	// langCode holds the languages whose unquoted assignments are code, not data.
	langCode = langGo | langPython | langJS
)

var langNames = []struct {
	l    lang
	name string
}{
	{langGo, "go"}, {langPython, "python"}, {langJS, "javascript"}, {langShell, "shell"},
	{langDocker, "dockerfile"}, {langYAML, "yaml"}, {langMake, "make"}, {langConfig, "config"},
	{langOther, "other"},
}

func detectLang(p string) lang {
	base := path.Base(p)
	lower := strings.ToLower(base)
	if strings.Contains(lower, ".min.") {
		// Minified bundles are generated; only secret rules read them.
		return langOther
	}
	switch path.Ext(lower) {
	case ".go":
		return langGo
	case ".py", ".pyw", ".pyi":
		return langPython
	case ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue", ".svelte":
		return langJS
	case ".sh", ".bash", ".zsh", ".ksh":
		return langShell
	case ".yml", ".yaml":
		return langYAML
	case ".env", ".ini", ".properties", ".conf", ".cfg", ".toml":
		return langConfig
	case ".dockerfile", ".containerfile":
		return langDocker
	case ".mk":
		return langMake
	}
	switch {
	case lower == "dockerfile" || lower == "containerfile" || strings.HasPrefix(lower, "dockerfile."):
		return langDocker
	case lower == "makefile" || lower == "gnumakefile":
		return langMake
	case lower == ".bashrc" || lower == ".bash_profile" || lower == ".profile" || lower == ".zshrc" ||
		lower == ".zprofile" || lower == ".zshenv" || lower == "pkgbuild":
		return langShell
	case lower == ".env" || strings.HasPrefix(lower, ".env."):
		return langConfig
	}
	return langOther
}

// isLockfile reports whether p holds checksums or pinned dependency hashes,
// where high entropy is expected and never a secret.
func isLockfile(p string) bool {
	lower := strings.ToLower(path.Base(p))
	switch lower {
	case "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock",
		"go.sum", "go.work.sum", "cargo.lock", "poetry.lock", "pipfile.lock", "gemfile.lock",
		"composer.lock", "flake.lock", "packages.lock.json", "sha256sums", "sha512sums", "checksums.txt":
		return true
	}
	switch path.Ext(lower) {
	case ".sum", ".lock", ".sha256", ".sha512", ".md5":
		return true
	}
	return false
}

// isComment reports whether a line is only a comment. Code rules skip such
// lines (a commented-out eval is not an eval); secret rules do not.
func isComment(line string, lg lang) bool {
	t := strings.TrimLeft(line, " \t")
	if t == "" {
		return false
	}
	switch lg {
	case langGo, langJS:
		return strings.HasPrefix(t, "//") || strings.HasPrefix(t, "/*") || t[0] == '*'
	case langPython, langShell, langDocker, langYAML, langMake, langConfig:
		return t[0] == '#'
	}
	return false
}
