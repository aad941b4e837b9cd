package rules

import (
	"github.com/diffgate/diffgate/internal/apikey"
	"regexp"
	"strings"

	"github.com/diffgate/diffgate/internal/review"
)

// Token formats follow the issuers' documentation and the public gitleaks
// rule set. Messages never quote the match.

const (
	// pypiPrefix starts every PyPI token: a macaroon whose location is
	// pypi.org. It is split so that this file does not look like a secret.
	pypiPrefix = "pypi-" + "AgEIcHlwaS5vcmc"

	rotateFix = "revoke and rotate the credential now, then load it from the environment or a secret manager; removing the line does not remove it from history"
)

// tokenRule is a secret with a distinctive literal prefix.
func tokenRule(id, title string, sev review.Severity, conf float64, exact []string, re string) Rule {
	return Rule{
		ID: id, Severity: sev, Category: "secret", Title: title,
		Message:    title + " committed in source.",
		Fix:        rotateFix + ".",
		Confidence: conf,
		langs:      langAll,
		exact:      exact,
		re:         regexp.MustCompile(re),
		group:      1,
	}
}

func secretRules() []Rule {
	h, c := review.High, review.Critical
	rs := []Rule{
		tokenRule("DG-SECRET-AWS-ACCESS-KEY", "AWS access key ID", c, 0.9,
			[]string{"AKIA", "ASIA", "ABIA", "ACCA", "A3T"},
			`\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`),
		tokenRule("DG-SECRET-GITHUB-PAT", "GitHub personal access token", c, 0.95,
			[]string{"ghp_"}, `\b(ghp_[0-9A-Za-z]{36})\b`),
		tokenRule("DG-SECRET-GITHUB-OAUTH", "GitHub OAuth access token", c, 0.95,
			[]string{"gho_"}, `\b(gho_[0-9A-Za-z]{36})\b`),
		tokenRule("DG-SECRET-GITHUB-APP-TOKEN", "GitHub App token", c, 0.95,
			[]string{"ghu_", "ghs_"}, `\b((?:ghu|ghs)_[0-9A-Za-z]{36})\b`),
		tokenRule("DG-SECRET-GITHUB-REFRESH-TOKEN", "GitHub refresh token", c, 0.95,
			[]string{"ghr_"}, `\b(ghr_[0-9A-Za-z]{36})\b`),
		tokenRule("DG-SECRET-GITHUB-FINE-GRAINED-PAT", "GitHub fine-grained personal access token", c, 0.95,
			[]string{"github_pat_"}, `\b(github_pat_[0-9A-Za-z_]{82})\b`),
		tokenRule("DG-SECRET-GITLAB-PAT", "GitLab personal access token", c, 0.9,
			[]string{"glpat-"}, `\b(glpat-[0-9A-Za-z_\-]{20,})`),
		tokenRule("DG-SECRET-SLACK-BOT-TOKEN", "Slack bot token", h, 0.9,
			[]string{"xoxb-"}, `\b(xoxb-[0-9]{8,13}-(?:[0-9]{8,13}-)?[0-9A-Za-z]{20,})`),
		tokenRule("DG-SECRET-SLACK-USER-TOKEN", "Slack user or legacy token", h, 0.9,
			[]string{"xoxp-", "xoxa-", "xoxe-", "xoxo-", "xoxr-", "xoxs-"},
			`\b(xox[aeoprs]-(?:[0-9]{1,13}-){1,3}[0-9A-Za-z]{20,})`),
		tokenRule("DG-SECRET-SLACK-APP-TOKEN", "Slack app-level token", h, 0.9,
			[]string{"xapp-"}, `\b(xapp-[0-9]-[0-9A-Z]{6,}-[0-9]{6,}-[0-9a-z]{32,})`),
		tokenRule("DG-SECRET-SLACK-WEBHOOK", "Slack incoming webhook URL", h, 0.9,
			[]string{"hooks.slack.com"}, `hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_\-]{40,})`),
		tokenRule("DG-SECRET-STRIPE-SECRET-KEY", "Stripe live secret key", c, 0.95,
			[]string{"sk_live_"}, `\b(sk_live_[0-9A-Za-z]{24,})`),
		tokenRule("DG-SECRET-STRIPE-RESTRICTED-KEY", "Stripe live restricted key", h, 0.95,
			[]string{"rk_live_"}, `\b(rk_live_[0-9A-Za-z]{24,})`),
		tokenRule("DG-SECRET-STRIPE-WEBHOOK-SECRET", "Stripe webhook signing secret", h, 0.85,
			[]string{"whsec_"}, `\b(whsec_[0-9A-Za-z+/]{32,})`),
		tokenRule("DG-SECRET-GOOGLE-API-KEY", "Google API key", h, 0.9,
			[]string{"AIza"}, `\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)`),
		tokenRule("DG-SECRET-GOOGLE-OAUTH-SECRET", "Google OAuth client secret", h, 0.9,
			[]string{"GOCSPX-"}, `\b(GOCSPX-[0-9A-Za-z_\-]{28})(?:[^0-9A-Za-z_\-]|$)`),
		tokenRule("DG-SECRET-OPENAI-KEY", "OpenAI API key", c, 0.9,
			[]string{"sk-"},
			`\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{48})(?:[^A-Za-z0-9_\-]|$)`),
		tokenRule("DG-SECRET-ANTHROPIC-KEY", "Anthropic API key", c, 0.95,
			[]string{"sk-ant-"}, `\b(sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_\-]{32,})`),
		tokenRule("DG-SECRET-HUGGINGFACE-TOKEN", "Hugging Face access token", h, 0.85,
			[]string{"hf_"}, `\b(hf_[A-Za-z]{34})\b`),
		// diffgate's own keys: the checksum lets only real keys match.
		withAccept(tokenRule("DG-SECRET-DIFFGATE-KEY", "diffgate API key", c, 0.97,
			[]string{"dg_live_", "dg_test_"}, `\b(`+apikey.Pattern+`)\b`),
			func(line string, m []int) bool {
				_, err := apikey.Parse(line[m[2]:m[3]])
				return err == nil
			}),
		tokenRule("DG-SECRET-NPM-TOKEN", "npm access token", h, 0.9,
			[]string{"npm_"}, `\b(npm_[A-Za-z0-9]{36})\b`),
		tokenRule("DG-SECRET-PYPI-TOKEN", "PyPI upload token", h, 0.95,
			[]string{pypiPrefix}, `(`+pypiPrefix+`[A-Za-z0-9_\-]{50,})`),
		tokenRule("DG-SECRET-PRIVATE-KEY", "Private key", c, 0.95,
			[]string{"PRIVATE KEY"}, `(-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----)`),
		tokenRule("DG-SECRET-JWT", "JSON Web Token", h, 0.7,
			[]string{"eyJ"}, `\b(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})`),
		tokenRule("DG-SECRET-TWILIO-API-KEY", "Twilio API key", h, 0.75,
			[]string{"SK"}, `\b(SK[0-9a-fA-F]{32})\b`),
		tokenRule("DG-SECRET-SENDGRID-KEY", "SendGrid API key", h, 0.95,
			[]string{"SG."}, `\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)`),
		tokenRule("DG-SECRET-MAILGUN-KEY", "Mailgun API key", h, 0.8,
			[]string{"key-"}, `\b(key-[0-9a-f]{32})\b`),
		tokenRule("DG-SECRET-SHOPIFY-TOKEN", "Shopify access token", h, 0.95,
			[]string{"shpat_", "shpca_", "shppa_", "shpss_"}, `\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b`),
		tokenRule("DG-SECRET-DIGITALOCEAN-TOKEN", "DigitalOcean token", h, 0.95,
			[]string{"dop_v1_", "doo_v1_", "dor_v1_"}, `\b(do[opr]_v1_[a-f0-9]{64})\b`),
		tokenRule("DG-SECRET-VAULT-TOKEN", "HashiCorp Vault token", h, 0.85,
			[]string{"hvs.", "hvb."}, `\b(hv[sb]\.[A-Za-z0-9_\-]{24,})`),
		tokenRule("DG-SECRET-TELEGRAM-BOT-TOKEN", "Telegram bot token", h, 0.85,
			[]string{":AA"}, `\b([0-9]{8,10}:AA[0-9A-Za-z_\-]{33})(?:[^0-9A-Za-z_\-]|$)`),
	}

	folded := func(r Rule, kw ...string) Rule {
		r.exact, r.keywords = nil, kw
		return r
	}
	rs = append(rs,
		withAccept(folded(tokenRule("DG-SECRET-AWS-SECRET-KEY", "AWS secret access key", c, 0.85, nil,
			`(?i)aws[\w.\-]{0,20}?secret[\w.\-]{0,20}?["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
			"aws"), notPlaceholderGroup(1)),
		folded(tokenRule("DG-SECRET-AZURE-STORAGE-KEY", "Azure storage account key", c, 0.9, nil,
			`(?i)AccountKey=([A-Za-z0-9+/]{80,}={0,2})`), "accountkey="),
		folded(tokenRule("DG-SECRET-DATADOG-KEY", "Datadog API or application key", h, 0.8, nil,
			`(?i)\b(?:datadog|dd)[_\-]?(?:api|app|application)[_\-]?key["']?\s*(?::=|=>|=|:)\s*["']?([a-f0-9]{40}|[a-f0-9]{32})\b`),
			"datadog", "dd_ap", "dd-ap", "ddap"),
		folded(tokenRule("DG-SECRET-DISCORD-WEBHOOK", "Discord webhook URL", h, 0.9, nil,
			`(?i)discord(?:app)?\.com/api/webhooks/([0-9]{17,20}/[A-Za-z0-9_\-]{60,68})`), "discord"),
		folded(tokenRule("DG-SECRET-DISCORD-BOT-TOKEN", "Discord bot token", h, 0.7, nil,
			`\b([MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40})\b`), "discord"),
	)

	heroku := tokenRule("DG-SECRET-HEROKU-KEY", "Heroku API key", h, 0.8, []string{"HRKU-"},
		`\b(HRKU-[0-9A-Za-z_\-]{58,})|(?i:heroku[\w.\-]{0,20}(?:key|token|secret)["']?\s*(?::=|=>|=|:)\s*["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))\b`)
	heroku.keywords = []string{"heroku"}
	// The UUID form is group 2; the HRKU form falls back to the whole match.
	heroku.group = 2
	rs = append(rs, heroku)

	rs = append(rs, Rule{
		ID: "DG-SECRET-DATABASE-URL", Severity: h, Category: "secret",
		Title:      "Database URL with password",
		Message:    "A connection URL embeds a password.",
		Fix:        rotateFix + "; build the URL from configuration at run time.",
		Confidence: 0.85,
		langs:      langAll,
		keywords:   []string{"postgres", "mysql", "mariadb", "mongodb", "redis", "amqp", "mssql", "sqlserver"},
		re:         regexp.MustCompile(`(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver)://[^\s:/@'"\x60]*:([^\s/@'"\x60]+)@([^\s/:?'"\x60,]+)`),
		group:      1,
		accept: func(line string, m []int) bool {
			switch pw := line[m[2]:m[3]]; strings.ToLower(pw) {
			case "password", "pass", "passwd", "pwd", "secret":
				// user:password@host is how documentation spells a URL.
				return false
			default:
				if isPlaceholder(pw) {
					return false
				}
			}
			switch strings.ToLower(strings.Trim(line[m[4]:m[5]], "[]")) {
			case "localhost", "127.0.0.1", "::1", "0.0.0.0":
				// Throwaway local development databases are not leaks.
				return false
			}
			return true
		},
	})

	rs = append(rs, Rule{
		ID: "DG-SECRET-HARDCODED-CREDENTIAL", Severity: h, Category: "secret",
		Title:      "Hard-coded credential",
		Message:    "A password, secret, API key or token is assigned a literal value.",
		Fix:        rotateFix + "; read it from the environment or a secret manager instead.",
		Confidence: 0.6,
		langs:      langAll,
		keywords: []string{"password", "passwd", "secret", "api_key", "apikey", "api-key",
			"access_token", "accesstoken", "access-token", "auth_token", "authtoken", "auth-token"},
		fn: findHardcodedCredential,
	})

	rs = append(rs, Rule{
		ID: "DG-SECRET-HIGH-ENTROPY", Severity: review.Medium, Category: "secret",
		Title:      "High-entropy string",
		Message:    "A literal looks like a random key or token (high Shannon entropy).",
		Fix:        "if it is a credential, rotate it and load it from configuration; if not, mark the line with diffgate:ignore DG-SECRET-HIGH-ENTROPY.",
		Confidence: 0.4,
		langs:      langAll,
		entropy:    true,
	})
	return rs
}

func withAccept(r Rule, f func(string, []int) bool) Rule {
	r.accept = f
	return r
}

func notPlaceholderGroup(g int) func(string, []int) bool {
	return func(line string, m []int) bool { return !isPlaceholder(line[m[2*g]:m[2*g+1]]) }
}

var (
	// credQuoted is the reference form of credAssign, kept for tests that
	// compare the two.
	credQuoted = regexp.MustCompile(`(?i)[\w.\-]*(?:password|passwd|secret(?:[_\-]?key)?|api[_\-]?key|access[_\-]?token|auth[_\-]?token)["']?\s*(?::=|=>|=|:)\s*["'\x60]([^"'\x60]*)["'\x60]`)
	// credBare is a KEY=value line of a configuration file, where values
	// need no quotes. In code an unquoted value is a variable, not a secret.
	credBare = regexp.MustCompile(`(?i)^\s*(?:export\s+)?[\w.\-]*(?:password|passwd|secret(?:[_\-]?key)?|api[_\-]?key|access[_\-]?token|auth[_\-]?token)\s*[:=]\s*([^\s"'#]+)\s*$`)
)

// credAssign is credQuoted anchored at its keyword; the identifier ahead
// of the keyword only widened the match, never decided it.
var credAssign = newAnchored([]string{"password", "passwd", "secret", "api", "access", "auth"}, true,
	`^(?i:password|passwd|secret(?:[_\-]?key)?|api[_\-]?key|access[_\-]?token|auth[_\-]?token)["']?\s*(?::=|=>|=|:)\s*["'\x60]([^"'\x60]*)["'\x60]`, nil)

func findHardcodedCredential(line string, lg lang) (int, int, bool) {
	if m := credAssign.find(line, func(m []int) bool { return credentialValue(line[m[2]:m[3]]) }); m != nil {
		return m[2], m[3], true
	}
	if lg&langCode == 0 {
		if m := credBare.FindStringSubmatchIndex(line); m != nil && credentialValue(line[m[2]:m[3]]) {
			return m[2], m[3], true
		}
	}
	return 0, 0, false
}

// credentialValue reports whether v looks like a real credential rather
// than a label, a reference or a placeholder.
func credentialValue(v string) bool {
	// Escapes mean text (often a label or an emoji), not a typed secret.
	if len(v) < 6 || strings.ContainsAny(v, " \t\\") || strings.HasPrefix(v, "/") || isPlaceholder(v) {
		return false
	}
	l := strings.ToLower(v)
	switch l {
	case "password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "required", "optional",
		"string", "hidden", "redacted", "none", "null", "undefined":
		return false
	}
	for _, w := range []string{"example", "placeholder", "dummy", "redacted", "your_", "your-", "yourpassword"} {
		if strings.Contains(l, w) {
			return false
		}
	}
	// An environment variable's name (DB_PASSWORD) is a reference.
	envName := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			envName = false
			break
		}
	}
	return !envName
}

// isPlaceholder reports whether v is a template, a variable reference or a
// masked value rather than a literal secret.
func isPlaceholder(v string) bool {
	if v == "" {
		return true
	}
	if strings.Contains(v, "${") || strings.Contains(v, "{{") || strings.Contains(v, "#{") ||
		strings.Contains(v, "%(") || strings.Contains(v, "%s") || v[0] == '$' ||
		(v[0] == '<' && v[len(v)-1] == '>') || (v[0] == '{' && v[len(v)-1] == '}') {
		return true
	}
	l := strings.ToLower(v)
	for _, w := range []string{"getenv", "environ", "process.env", "env("} {
		if strings.Contains(l, w) {
			return true
		}
	}
	// Masks such as xxxx, ****, ....
	masked := true
	for i := 0; i < len(l); i++ {
		if c := l[i]; c != 'x' && c != '*' && c != '.' && c != '-' && c != '_' {
			masked = false
			break
		}
	}
	return masked
}
