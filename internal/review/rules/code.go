package rules

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/diffgate/diffgate/internal/review"
)

// codeRule is a risky-code rule driven by one regular expression.
func codeRule(id string, sev review.Severity, cat string, conf float64, langs lang, title, msg, fix string,
	keywords, exact []string, re string) Rule {
	r := Rule{
		ID: id, Severity: sev, Category: cat, Title: title, Message: msg, Fix: fix, Confidence: conf,
		langs: langs, keywords: keywords, exact: exact,
	}
	if re != "" {
		r.re = regexp.MustCompile(re)
	}
	return r
}

const sqlStart = `(?:select\s[^"'\x60]*\sfrom|insert\s+into|update\s+[\w."\x60\[\]]+\s+set|delete\s+from)\b`

// sqlIn is sqlStart inside a literal closed only by the bytes of notq, so a
// double-quoted string may hold single quotes and a template both.
func sqlIn(notq string) string {
	return `(?:select\s[^` + notq + `]*\sfrom|insert\s+into|update\s+[\w."\x60\[\]]+\s+set|delete\s+from)\b[^` + notq + `]*`
}

var (
	sqlFormatGo   = regexp.MustCompile(`(?i)\bSprintf\(\s*["\x60]\s*(?:select|insert|update|delete)\s[^"\x60]*%[svq]`)
	sqlFormatPyF  = regexp.MustCompile(`(?i)\b(?:f|rf|fr)(?:"\s*` + sqlIn(`"`) + `|'\s*` + sqlIn(`'`) + `)\{`)
	sqlFormatPyOp = regexp.MustCompile(`(?i)["']\s*(?:select|insert|update|delete)\b[^"']*%[sd(][^"']*["']\s*%\s*[\w(\[]`)
	sqlFormatPyFm = regexp.MustCompile(`(?i)["']\s*(?:select|insert|update|delete)\b[^"']*\{[^"']*["']\s*\.format\(`)
	// A tagged template (sql`...`) is parameterised by its tag, so the
	// backtick must not follow an identifier.
	sqlFormatJS = regexp.MustCompile(`(?i)(?:^|[^\w.$])\x60\s*` + sqlIn(`\x60`) + `\$\{`)

	pyOSShell   = regexp.MustCompile(`\bos\.(?:system|popen)\(\s*(?:[rb]?f[rb]?["']|[^)]*["']\s*(?:\+|%)|[^)]*\+\s*["']|[^)]*\.format\()`)
	pySubShell  = regexp.MustCompile(`\bsubprocess\.(?:run|call|Popen|check_output|check_call)\(\s*(?:[rb]?f[rb]?["']|[^,]*["']\s*(?:\+|%)|[^,]*\+\s*["']|[^,]*\.format\()`)
	pyShellTrue = regexp.MustCompile(`\bshell\s*=\s*True\b`)

	chmodGo    = regexp.MustCompile(`(?:\bos\.(?:Chmod|Lchown)\([^,]+,|\.Chmod\()\s*(0o?[0-7]{3,4})\b`)
	chmodPy    = regexp.MustCompile(`\bos\.(?:chmod|fchmod|lchmod)\([^,]+,\s*(0o[0-7]{3,4}|[\w.|\s]*S_IWOTH|[\w.|\s]*S_IRWXO)\b`)
	chmodShell = regexp.MustCompile(`(?:^|[\s;&|(])chmod\s+(?:-[A-Za-z]+\s+)*([0-7]{3,4}|[ugoa]*[+=][rwxXst]+(?:,[ugoa]*[+=\-][rwxXst]+)*)(?:\s|$)`)
	createGo   = regexp.MustCompile(`\bos\.(?:WriteFile|OpenFile)\(.*,\s*(0o?[0-7]{3,4})\s*\)`)

	// hashCall, jsExecRef, jsConsoleRef and jsEvalRef are the reference forms of the
	// anchored matchers below, kept for tests that compare the two.
	hashCall     = regexp.MustCompile(`(?i)\b(?:md5|sha1)(?:\.(?:sum|new)\b|["']\s*[,)]|\s*\()`)
	jsExecRef    = regexp.MustCompile(`(?:^|[^\w$.]|\b(?:child_process|childProcess|cp)\.)(?:exec|execSync)\(\s*(?:\x60[^\x60]*\$\{|["'][^"']*["']\s*\+|[\w$.]+\s*\+)`)
	jsConsoleRef = regexp.MustCompile(`\bconsole\.(?:log|debug|trace|dir)\s*\(`)
	jsEvalRef    = regexp.MustCompile(`(?:^|[^\w$.])(?:eval\s*\(|new\s+Function\s*\()|\b(?:window|globalThis|self)\.eval\s*\(`)

	hashCallAt = newAnchored([]string{"md5", "sha1"}, true,
		`^(?i:md5|sha1)(?:\.(?i:sum|new)\b|["']\s*[,)]|\s*\()`, wordStart)
	jsExec = newAnchored([]string{"exec"}, false,
		`^(?:exec|execSync)\(\s*(?:\x60[^\x60]*\$\{|["'][^"']*["']\s*\+|[\w$.]+\s*\+)`,
		func(line string, p int) bool {
			return notAfterIdent(line, p) || afterObject(line, p, "child_process", "childProcess", "cp")
		})
	jsConsole = newAnchored([]string{"console."}, false, `^console\.(?:log|debug|trace|dir)\s*\(`, wordStart)
	jsEval    = newAnchored([]string{"eval", "new"}, false,
		`^(?:eval\s*\(|new\s+Function\s*\()`,
		func(line string, p int) bool {
			return notAfterIdent(line, p) || line[p] == 'e' && afterObject(line, p, "window", "globalThis", "self")
		})

	weakRandGo = regexp.MustCompile(`\brand\.(?:Intn|Int31n|Int63n|Int63|Int31|Uint32|Uint64|Float64|Perm|Shuffle|IntN|Int64N|Int32N|UintN|N)\(`)
	weakRandJS = regexp.MustCompile(`\bMath\.random\(\)`)
	weakRandPy = regexp.MustCompile(`\brandom\.(?:random|randint|randrange|choice|choices|sample|getrandbits)\(`)

	yamlLoad = regexp.MustCompile(`\byaml\.(unsafe_load(?:_all)?|load(?:_all)?)\s*\(`)
)

func codeRules() []Rule {
	sec, maint := "security", "maintainability"
	rs := []Rule{
		withNeed(codeRule("DG-SQL-CONCAT", review.High, sec, 0.75, langCode,
			"SQL built by concatenation",
			"An SQL statement is concatenated with a value, which allows SQL injection.",
			"use placeholders ($1, ?) and pass values as query arguments.",
			sqlKeywords, nil,
			`(?i)["'\x60]\s*`+sqlStart+`[^"'\x60]*["'\x60]{1,2}\s*\+\s*[\w(]`), "+"),
		{
			ID: "DG-SQL-FORMAT", Severity: review.High, Category: sec, Confidence: 0.75,
			Title:   "SQL built by string formatting",
			Message: "An SQL statement is built with string formatting or interpolation, which allows SQL injection.",
			Fix:     "use placeholders ($1, ?, %s as a driver parameter) and pass values as query arguments.",
			langs:   langCode, keywords: sqlKeywords,
			fn: findSQLFormat,
		},
		withAccept(codeRule("DG-CMD-GO-SHELL", review.High, sec, 0.75, langGo,
			"Shell command built from strings",
			"exec.Command runs a shell (sh -c) on a string built at run time, which allows command injection.",
			"run the program directly with separate arguments (exec.Command(name, args...)) instead of through sh -c.",
			nil, []string{"exec.Command"},
			`\bexec\.Command(?:Context)?\(\s*(?:\w+\s*,\s*)?"(?:/usr/bin/|/bin/)?(?:ba|z|da|k)?sh"\s*,\s*"-c"\s*,(.+)`),
			func(line string, m []int) bool {
				arg := line[m[2]:m[3]]
				return strings.Contains(arg, "+") || strings.Contains(arg, "Sprintf")
			}),
		{
			ID: "DG-CMD-PY-SHELL", Severity: review.High, Category: sec, Confidence: 0.8,
			Title:   "Shell command built from strings",
			Message: "A shell command is built with formatting or concatenation and run through a shell, which allows command injection.",
			Fix:     "pass an argument list to subprocess.run without shell=True; if a shell is unavoidable, quote values with shlex.quote.",
			langs:   langPython, exact: []string{"os.system", "os.popen", "subprocess."},
			fn: func(line string, _ lang) (int, int, bool) {
				if m := pyOSShell.FindStringIndex(line); m != nil {
					return m[0], m[1], true
				}
				if m := pySubShell.FindStringIndex(line); m != nil && pyShellTrue.MatchString(line) {
					return m[0], m[1], true
				}
				return 0, 0, false
			},
		},
		{
			ID: "DG-CMD-JS-EXEC", Severity: review.High, Category: sec, Confidence: 0.75,
			Title:   "Shell command built from strings",
			Message: "child_process exec runs a shell on a string built with interpolation or concatenation, which allows command injection.",
			Fix:     "use execFile or spawn with an argument array and no shell.",
			langs:   langJS, exact: []string{"exec(", "execSync("},
			fn: anchoredFn(jsExec),
		},
		withAccept(codeRule("DG-CMD-SH-EVAL", review.Medium, sec, 0.7, langShellish,
			"eval of a variable",
			"eval re-parses an expanded variable as shell code, so any shell syntax in its value runs.",
			"run the command directly (\"$@\" or an array) instead of through eval.",
			nil, []string{"eval"},
			`(?:^|[;&|({]\s*|\s)eval\s+(.+)`),
			func(line string, m []int) bool {
				arg := line[m[2]:m[3]]
				for i := 0; i+1 < len(arg); i++ {
					if arg[i] == '$' {
						c := arg[i+1]
						// $(cmd) is command substitution of fixed text, the
						// common eval "$(tool init)" idiom; variables are not.
						if c == '{' || c == '@' || c == '*' || c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
							return true
						}
					}
				}
				return false
			}),
		{
			ID: "DG-EVAL-JS", Severity: review.High, Category: sec, Confidence: 0.7,
			Title:   "Dynamic code evaluation",
			Message: "eval or new Function runs a string as code; any attacker influence on it is code execution.",
			Fix:     "parse data with JSON.parse or replace the dynamic code with a lookup table.",
			langs:   langJS, keywords: []string{"eval", "Function"},
			fn: anchoredFn(jsEval),
		},
		withLineOK(codeRule("DG-EVAL-PY", review.High, sec, 0.7, langPython,
			"Dynamic code evaluation",
			"eval or exec runs a string as Python code; any attacker influence on it is code execution.",
			"use ast.literal_eval for literals, json for data, or an explicit dispatch table.",
			nil, []string{"eval(", "exec("},
			`(?:^|[^\w.])(?:eval|exec)\(\s*[^)\s]`),
			notDef),
		withSuggest(codeRule("DG-TLS-GO-SKIP-VERIFY", review.High, sec, 0.9, langGo,
			"TLS certificate verification disabled",
			"InsecureSkipVerify disables certificate checks, so any machine in the path can impersonate the server.",
			"remove InsecureSkipVerify; trust a private CA through tls.Config.RootCAs instead.",
			nil, []string{"InsecureSkipVerify"},
			`\bInsecureSkipVerify\s*(?::|=)\s*true\b`),
			replacer(`\bInsecureSkipVerify(\s*(?::|=)\s*)true\b`, "InsecureSkipVerify${1}false")),
		withSuggest(withLineOK(codeRule("DG-TLS-PY-VERIFY-DISABLED", review.High, sec, 0.85, langPython,
			"TLS certificate verification disabled",
			"Certificate or host name verification is turned off, so any machine in the path can impersonate the server.",
			"keep verification on; pass verify=\"/path/to/ca.pem\" to trust a private CA.",
			nil, []string{"verify", "_create_unverified_context", "CERT_NONE", "check_hostname"},
			`\bverify\s*=\s*False\b|\b_create_unverified_context\(|\b(?:verify_mode|cert_reqs)\s*=\s*(?:ssl\.)?CERT_NONE\b|\bcheck_hostname\s*=\s*False\b`),
			notDef), replacer(`\bverify(\s*=\s*)False\b`, "verify${1}True")),
		withSuggest(codeRule("DG-TLS-JS-REJECT-UNAUTHORIZED", review.High, sec, 0.9, langJS,
			"TLS certificate verification disabled",
			"rejectUnauthorized: false accepts any certificate, so any machine in the path can impersonate the server.",
			"remove the option; trust a private CA with the ca option instead.",
			nil, []string{"rejectUnauthorized"},
			`(?:^|[{,\s"'])rejectUnauthorized["']?\s*:\s*false\b`),
			replacer(`\brejectUnauthorized(\s*:\s*)false\b`, "rejectUnauthorized${1}true")),
		codeRule("DG-TLS-NODE-ENV", review.High, sec, 0.9, langAll,
			"TLS certificate verification disabled for Node.js",
			"NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate checks for every connection of the process.",
			"remove the variable; point NODE_EXTRA_CA_CERTS at a private CA instead.",
			nil, []string{"NODE_TLS_REJECT_UNAUTHORIZED"},
			`\bNODE_TLS_REJECT_UNAUTHORIZED["']?\s*(?:=|:)\s*["']?0\b`),
		codeRule("DG-TLS-CURL-INSECURE", review.Medium, sec, 0.85, langShellish,
			"Download without certificate checks",
			"curl -k/--insecure or wget --no-check-certificate accepts any certificate, so a download can be swapped in transit.",
			"drop the flag; pass --cacert (curl) or --ca-certificate (wget) for a private CA.",
			nil, []string{"curl", "wget"},
			`\b(?:curl\b[^|;&]*\s(?:--insecure|-[A-Za-jl-z]*k[A-Za-z]*)(?:\s|$)|wget\b[^|;&]*\s--no-check-certificate\b)`),
		codeRule("DG-TLS-WEAK-VERSION", review.Medium, sec, 0.85, langGo|langPython,
			"Obsolete TLS version allowed",
			"SSL 3.0, TLS 1.0 and TLS 1.1 are broken or deprecated (RFC 8996).",
			"require TLS 1.2 or later (tls.VersionTLS12, ssl.TLSVersion.TLSv1_2).",
			nil, []string{"tls.Version", "PROTOCOL_", "TLSVersion."},
			`\b(?:MinVersion|MaxVersion)\s*(?::|=)\s*tls\.Version(?:SSL30|TLS10|TLS11)\b|\bssl\.PROTOCOL_(?:SSLv2|SSLv3|TLSv1|TLSv1_1)\b|_version\s*=\s*(?:ssl\.)?TLSVersion\.(?:SSLv3|TLSv1|TLSv1_1)\b`),
		codeRule("DG-CMD-CURL-PIPE-SHELL", review.Medium, sec, 0.65, langShellish,
			"Remote script piped into a shell",
			"A downloaded script is run unseen; whoever controls the URL or the connection runs code here.",
			"download to a file, verify its checksum or signature, then run it.",
			nil, []string{"curl", "wget"},
			`\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|da|k)?sh\b`),
		{
			ID: "DG-DESER-PY-YAML", Severity: review.High, Category: sec, Confidence: 0.8,
			Title:   "Unsafe YAML load",
			Message: "yaml.load without SafeLoader (or yaml.unsafe_load) can construct arbitrary Python objects from the document.",
			Fix:     "use yaml.safe_load, or pass Loader=yaml.SafeLoader.",
			langs:   langPython, exact: []string{"yaml."},
			fn: findYAMLLoad,
			suggest: func(line string) string {
				if strings.Contains(line, "Loader") || !strings.Contains(line, "yaml.load(") {
					return ""
				}
				return strings.Replace(line, "yaml.load(", "yaml.safe_load(", 1)
			},
		},
		codeRule("DG-DESER-PY-PICKLE", review.Medium, sec, 0.6, langPython,
			"Unsafe deserialisation",
			"pickle, marshal and dill run code while loading; loading data an attacker can touch is code execution.",
			"load untrusted data as JSON (or another data-only format); sign pickles you must keep.",
			nil, []string{"pickle", "marshal.load", "dill.load"},
			`\b(?:pickle|cPickle|_pickle|dill)\.(?:loads?|Unpickler)\s*\(|\bmarshal\.loads?\s*\(|\bread_pickle\s*\(`),
		withLineOK(withAccept(codeRule("DG-XSS-JS-INNER-HTML", review.Medium, sec, 0.65, langJS,
			"HTML injection through innerHTML",
			"Assigning built HTML to innerHTML/outerHTML runs any markup and script in the value (XSS).",
			"set textContent, build nodes with createElement, or sanitise with DOMPurify first.",
			nil, []string{"innerHTML", "outerHTML"},
			`\.(?:innerHTML|outerHTML)\s*\+?=([^=].*|$)`),
			func(line string, m []int) bool { return !isStringLiteral(line[m[2]:m[3]]) }), notSanitized),
		withLineOK(codeRule("DG-XSS-JS-DANGEROUS-HTML", review.Medium, sec, 0.6, langJS,
			"dangerouslySetInnerHTML",
			"React renders the value as raw HTML; unsanitised input becomes XSS.",
			"render text as children, or sanitise the HTML with DOMPurify first.",
			nil, []string{"dangerouslySetInnerHTML"},
			`\bdangerouslySetInnerHTML\s*[=:]`),
			notSanitized),
		codeRule("DG-XSS-JS-DOCUMENT-WRITE", review.Medium, sec, 0.7, langJS,
			"document.write",
			"document.write inserts raw HTML into the page (XSS) and blocks parsing.",
			"insert nodes with createElement/append and textContent.",
			nil, []string{"document.write"},
			`\bdocument\.write(?:ln)?\s*\(`),
		codeRule("DG-XSS-GO-TEMPLATE-HTML", review.Medium, sec, 0.6, langGo,
			"Escaping bypassed in html/template",
			"Converting a run-time value to template.HTML (or JS, URL, CSS) turns off html/template's escaping for it.",
			"pass the plain string and let html/template escape it; convert only constant, reviewed markup.",
			nil, []string{"template."},
			`\btemplate\.(?:HTML|HTMLAttr|JS|JSStr|URL|CSS|Srcset)\(\s*[^"\x60)\s]`),
		{
			ID: "DG-CRYPTO-WEAK-PASSWORD-HASH", Severity: review.High, Category: sec, Confidence: 0.8,
			Title:   "Password hashed with MD5 or SHA-1",
			Message: "MD5 and SHA-1 are fast, unsalted hashes; stolen password hashes made with them are cracked in bulk.",
			Fix:     "hash passwords with bcrypt, scrypt or Argon2id.",
			langs:   langCode, keywords: []string{"md5", "sha1"},
			fn: func(line string, _ lang) (int, int, bool) {
				if !containsFold(line, "passw") && !containsFold(line, "pwd") {
					return 0, 0, false
				}
				return anchoredFn(hashCallAt)(line, 0)
			},
		},
		{
			ID: "DG-CRYPTO-WEAK-RANDOM", Severity: review.Medium, Category: sec, Confidence: 0.65,
			Title:   "Predictable random numbers for a secret",
			Message: "A token, password, key or nonce comes from a non-cryptographic random generator, so it can be predicted.",
			Fix:     "use crypto/rand (Go), the secrets module (Python) or crypto.getRandomValues / crypto.randomBytes (JavaScript).",
			langs:   langCode, exact: []string{"rand.", "Math.random", "random."},
			fn: findWeakRandom,
		},
		{
			ID: "DG-PERM-CHMOD-WORLD-WRITABLE", Severity: review.High, Category: sec, Confidence: 0.85,
			Title:   "World-writable permissions",
			Message: "chmod makes a file or directory writable by every user; the umask does not apply to chmod.",
			Fix:     "grant write access to the owner (and group if needed) only, for example 0755 or 0644.",
			langs:   langGo | langPython | langShellish, keywords: []string{"chmod"},
			fn: findChmod,
		},
		{
			ID: "DG-PERM-CREATE-WORLD-WRITABLE", Severity: review.Low, Category: sec, Confidence: 0.5,
			Title:   "File created world-writable",
			Message: "A file is created executable and world-writable (0777); only the process umask keeps it private.",
			Fix:     "create files with 0600 or 0644 (0755 for scripts).",
			// 0666 for files and 0777 for directories are the defaults of
			// os.Create and os.MkdirAll, narrowed by the umask; flagging them
			// would flood ordinary Go code. A file created 0777 is not a default.
			langs: langGo, exact: []string{"os.WriteFile", "os.OpenFile"},
			fn: func(line string, _ lang) (int, int, bool) {
				m := createGo.FindStringSubmatchIndex(line)
				if m == nil {
					return 0, 0, false
				}
				if mode := strings.TrimPrefix(strings.TrimPrefix(line[m[2]:m[3]], "0o"), "0"); worldWritableOctal(line[m[2]:m[3]]) && mode != "666" {
					return m[2], m[3], true
				}
				return 0, 0, false
			},
		},
		codeRule("DG-DEBUG-JS-DEBUGGER", review.Low, maint, 0.9, langJS,
			"debugger statement",
			"A debugger statement pauses every user with open developer tools.",
			"remove the debugger statement.",
			nil, []string{"debugger"},
			`(?:^|[;{}\s])debugger\s*;?\s*(?:$|//|\})`),
		{
			ID: "DG-DEBUG-JS-CONSOLE", Severity: review.Info, Category: maint, Confidence: 0.5,
			Title:   "console.log left in",
			Message: "console.log/debug/trace output looks like a debugging leftover and may print data meant to stay private.",
			Fix:     "remove it or use the project's logger.",
			langs:   langJS, exact: []string{"console."},
			fn: anchoredFn(jsConsole),
		},
		codeRule("DG-DEBUG-PY-BREAKPOINT", review.Low, maint, 0.9, langPython,
			"Debugger breakpoint left in",
			"breakpoint() or pdb.set_trace() stops the program waiting for a debugger.",
			"remove the breakpoint.",
			nil, []string{"breakpoint()", "set_trace("},
			`(?:^|[;\s])(?:breakpoint\(\)|(?:i?pdb|pudb|rpdb|remote_pdb|web_pdb|pdbr)\.set_trace\()`),
		codeRule("DG-DEBUG-GO-PRINT", review.Low, maint, 0.7, langGo,
			"Debug output left in",
			"spew/litter dumps and fmt prints tagged DEBUG look like debugging leftovers and may print private data.",
			"remove it or log through the injected *slog.Logger at debug level.",
			nil, []string{"spew.", "litter.", "fmt.Print", "pp.Print"},
			`\b(?:spew\.(?:Dump|Sdump|Fdump|Printf|Println)|litter\.(?:Dump|Sdump)|pp\.Print(?:ln|f)?)\s*\(|\bfmt\.Print(?:ln|f)?\(\s*"(?:DEBUG|debug|XXX)\b`),
		withSuggest(codeRule("DG-DEBUG-PY-FLASK", review.High, sec, 0.8, langPython,
			"Flask debug mode",
			"app.run(debug=True) serves the Werkzeug debugger, which runs any Python code a visitor sends.",
			"turn debug off outside local development (debug=False, or FLASK_DEBUG from the environment).",
			nil, []string{".run("},
			`\.run\([^)]*\bdebug\s*=\s*True\b`),
			replacer(`\bdebug(\s*=\s*)True\b`, "debug${1}False")),
		codeRule("DG-TMP-PY-MKTEMP", review.Medium, sec, 0.85, langPython,
			"Insecure temporary file name",
			"tempfile.mktemp returns a name that another process can create first (race, symlink attack).",
			"use tempfile.mkstemp, NamedTemporaryFile or TemporaryDirectory.",
			nil, []string{"mktemp("},
			`\btempfile\.mktemp\s*\(`),
	}
	return rs
}

// sqlKeywords start the statements the SQL rules look for; the trailing
// space keeps identifiers such as updateSelection out.
var sqlKeywords = []string{"select ", "insert ", "update ", "delete "}

func withNeed(r Rule, need ...string) Rule {
	r.need = need
	return r
}

// anchoredFn adapts an anchored matcher to Rule.fn of a rule that reports
// no secret: its span is the anchor (see anchored.at).
func anchoredFn(a *anchored) func(string, lang) (int, int, bool) {
	return func(line string, _ lang) (int, int, bool) { return a.at(line) }
}

func withLineOK(r Rule, ok func(line string) bool) Rule {
	r.lineOK = ok
	return r
}

// notSanitized rejects a line that names a sanitiser, which the value is
// then assumed to pass through.
func notSanitized(line string) bool { return !containsFold(line, "sanitize") }

// notDef rejects a Python def line: defining eval or an unverified-context
// helper is not calling it.
func notDef(line string) bool {
	t := strings.TrimSpace(line)
	return !strings.HasPrefix(t, "def ") && !strings.HasPrefix(t, "async def ")
}

func withSuggest(r Rule, f func(string) string) Rule {
	r.suggest = f
	return r
}

// replacer makes a suggestion that rewrites the offending expression.
func replacer(expr, repl string) func(string) string {
	re := regexp.MustCompile(expr)
	return func(line string) string {
		if !re.MatchString(line) {
			return ""
		}
		return re.ReplaceAllString(line, repl)
	}
}

func findSQLFormat(line string, lg lang) (int, int, bool) {
	var res []*regexp.Regexp
	switch {
	case lg == langGo && strings.Contains(line, "Sprintf"):
		res = []*regexp.Regexp{sqlFormatGo}
	case lg == langPython && strings.ContainsAny(line, "{%"):
		res = []*regexp.Regexp{sqlFormatPyF, sqlFormatPyOp, sqlFormatPyFm}
	case lg == langJS && strings.Contains(line, "${"):
		res = []*regexp.Regexp{sqlFormatJS}
	}
	for _, re := range res {
		if m := re.FindStringIndex(line); m != nil {
			return m[0], m[1], true
		}
	}
	return 0, 0, false
}

func findYAMLLoad(line string, _ lang) (int, int, bool) {
	m := yamlLoad.FindStringSubmatchIndex(line)
	if m == nil {
		return 0, 0, false
	}
	if strings.HasPrefix(line[m[2]:m[3]], "unsafe") {
		return m[0], m[1], true
	}
	rest := line[m[1]:]
	// A call continued on the next line may pass the loader there.
	if !strings.Contains(rest, ")") {
		return 0, 0, false
	}
	if strings.Contains(rest, "SafeLoader") || strings.Contains(rest, "BaseLoader") {
		return 0, 0, false
	}
	return m[0], m[1], true
}

func findWeakRandom(line string, lg lang) (int, int, bool) {
	var re *regexp.Regexp
	switch lg {
	case langGo:
		// Only math/rand has these functions; crypto/rand has Read, Int and Text.
		re = weakRandGo
	case langJS:
		re = weakRandJS
	case langPython:
		re = weakRandPy
	default:
		return 0, 0, false
	}
	m := re.FindStringIndex(line)
	if m == nil {
		return 0, 0, false
	}
	for _, w := range []string{"token", "secret", "passw", "nonce", "salt", "apikey", "api_key"} {
		if containsFold(line, w) {
			return m[0], m[1], true
		}
	}
	return 0, 0, false
}

func findChmod(line string, lg lang) (int, int, bool) {
	var m []int
	switch {
	case lg == langGo:
		m = chmodGo.FindStringSubmatchIndex(line)
	case lg == langPython:
		m = chmodPy.FindStringSubmatchIndex(line)
		if m != nil && strings.Contains(line[m[2]:m[3]], "S_I") {
			return m[2], m[3], true
		}
	default:
		m = chmodShell.FindStringSubmatchIndex(line)
	}
	if m == nil {
		return 0, 0, false
	}
	mode := line[m[2]:m[3]]
	// A mode masked in the call (0o666 & ~umask) is not the final mode.
	if strings.HasPrefix(strings.TrimSpace(line[m[3]:]), "&") {
		return 0, 0, false
	}
	if worldWritableOctal(mode) || worldWritableSymbolic(mode) {
		return m[2], m[3], true
	}
	return 0, 0, false
}

// worldWritableOctal reports whether an octal mode grants write to others.
// A sticky mode (1777) is the deliberate shared-directory idiom of /tmp.
func worldWritableOctal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return false
	}
	return v&0o002 != 0 && v&0o1000 == 0
}

// worldWritableSymbolic reports whether a symbolic chmod mode (a+w,
// o=rwx) grants write to others. A bare +w honours the umask.
func worldWritableSymbolic(s string) bool {
	for _, clause := range strings.Split(s, ",") {
		i := strings.IndexAny(clause, "+=")
		if i <= 0 {
			continue
		}
		who, perms := clause[:i], clause[i+1:]
		if strings.ContainsAny(who, "oa") && strings.Contains(perms, "w") {
			return true
		}
	}
	return false
}

// isStringLiteral reports whether s (the right side of an assignment) is a
// single constant string: "..." or '...' or a template without ${.
func isStringLiteral(s string) bool {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(s, ";")), ";")
	if len(s) < 2 {
		return false
	}
	q := s[0]
	if (q != '"' && q != '\'' && q != '`') || s[len(s)-1] != q {
		return false
	}
	body := s[1 : len(s)-1]
	if strings.IndexByte(body, q) >= 0 {
		return false
	}
	return q != '`' || !strings.Contains(body, "${")
}

// containsFold is an allocation-free ASCII case-insensitive strings.Contains.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if equalFoldASCII(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerTable[a[i]] != lowerTable[b[i]] {
			return false
		}
	}
	return true
}
