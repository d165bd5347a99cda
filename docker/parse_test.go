package docker_test

// Parsers for the files under docker/: compose.yaml (with Compose's ${VAR} interpolation), the Dockerfile, its
// .dockerignore and .env.example. They implement only what the checks in docker_test.go need, and are
// themselves tested in checks_test.go.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// ---- Compose interpolation ---------------------------------------------------------------------------------

// varRef is one ${NAME...} reference. Op is "", "-", ":-", "?", ":?", "+" or ":+"; Arg is the default, error
// message or alternative.
type varRef struct {
	Name, Op, Arg string
}

// required reports whether the reference has no default: Compose then substitutes an empty string (plain
// ${NAME}) or stops with Arg as the error (${NAME:?Arg}).
func (r varRef) required() bool { return r.Op == "" || r.Op == "?" || r.Op == ":?" }

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// interpolate expands $NAME, ${NAME} and ${NAME<op>arg} in s the way Compose does, and $$ to $. It returns the
// references it met (also inside defaults) and an error for ${NAME:?msg} / ${NAME?msg} with NAME missing.
func interpolate(s string, lookup func(string) (string, bool)) (string, []varRef, error) {
	var out strings.Builder
	var refs []varRef
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			out.WriteByte(c)
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			out.WriteByte('$')
			i++
		case next == '{':
			end, depth := -1, 0
			for j := i + 1; j < len(s) && end < 0; j++ {
				switch s[j] {
				case '{':
					depth++
				case '}':
					if depth--; depth == 0 {
						end = j
					}
				}
			}
			if end < 0 {
				return "", refs, fmt.Errorf("unclosed ${ in %q", s)
			}
			body := s[i+2 : end]
			name := varName.FindString(body)
			if name == "" {
				return "", refs, fmt.Errorf("invalid variable reference ${%s} in %q", body, s)
			}
			rest := body[len(name):]
			ref := varRef{Name: name}
			for _, op := range []string{":-", ":?", ":+", "-", "?", "+"} {
				if strings.HasPrefix(rest, op) {
					ref.Op, ref.Arg = op, rest[len(op):]
					break
				}
			}
			if ref.Op == "" && rest != "" {
				return "", refs, fmt.Errorf("invalid variable reference ${%s} in %q", body, s)
			}
			refs = append(refs, ref)
			arg, argRefs, err := interpolate(ref.Arg, lookup) // defaults may reference variables too
			refs = append(refs, argRefs...)
			if err != nil {
				return "", refs, err
			}
			val, set := lookup(name)
			switch ref.Op {
			case "":
			case ":-":
				if val == "" {
					val = arg
				}
			case "-":
				if !set {
					val = arg
				}
			case ":?":
				if val == "" {
					return "", refs, fmt.Errorf("required variable %s is missing a value: %s", name, arg)
				}
			case "?":
				if !set {
					return "", refs, fmt.Errorf("required variable %s is missing a value: %s", name, arg)
				}
			case ":+":
				if val != "" {
					val = arg
				}
			case "+":
				if set {
					val = arg
				} else {
					val = ""
				}
			}
			out.WriteString(val)
			i = end
		default:
			name := varName.FindString(s[i+1:])
			if name == "" {
				out.WriteByte('$')
				continue
			}
			refs = append(refs, varRef{Name: name})
			val, _ := lookup(name)
			out.WriteString(val)
			i += len(name)
		}
	}
	return out.String(), refs, nil
}

// ---- compose.yaml ------------------------------------------------------------------------------------------

type composeFile struct {
	Name     string             `yaml:"name"`
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
	Networks map[string]any     `yaml:"networks"`
}

type service struct {
	Image           string        `yaml:"image"`
	Build           any           `yaml:"build"`
	Restart         string        `yaml:"restart"`
	Entrypoint      stringList    `yaml:"entrypoint"`
	Command         stringList    `yaml:"command"`
	Environment     environment   `yaml:"environment"`
	Ports           []portSpec    `yaml:"ports"`
	Expose          []any         `yaml:"expose"`
	NetworkMode     string        `yaml:"network_mode"`
	Healthcheck     *healthcheck  `yaml:"healthcheck"`
	DependsOn       dependsOn     `yaml:"depends_on"`
	Volumes         []volumeMount `yaml:"volumes"`
	StopGracePeriod string        `yaml:"stop_grace_period"`
}

type healthcheck struct {
	Test        stringList `yaml:"test"`
	Interval    string     `yaml:"interval"`
	Timeout     string     `yaml:"timeout"`
	StartPeriod string     `yaml:"start_period"`
	Retries     int        `yaml:"retries"`
	Disable     bool       `yaml:"disable"`
}

// stringList is a YAML string or list of strings (command, entrypoint, healthcheck test). A plain string is
// kept as one element with scalar set.
type stringList struct {
	Items  []string
	scalar bool
}

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		l.Items, l.scalar = []string{n.Value}, true
		return nil
	}
	return n.Decode(&l.Items)
}

// environment is a service's environment as a map; the list form ("KEY=VALUE") is accepted too. A key without
// a value (taken from the shell in Compose) maps to nil.
type environment map[string]*string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	*e = environment{}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if v.Tag == "!!null" {
				(*e)[k] = nil
				continue
			}
			s := v.Value
			(*e)[k] = &s
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			k, v, ok := strings.Cut(item.Value, "=")
			if !ok {
				(*e)[k] = nil
				continue
			}
			(*e)[k] = &v
		}
	default:
		return fmt.Errorf("line %d: environment must be a map or a list", n.Line)
	}
	return nil
}

// portSpec is one published port, short ("[ip:]host:container[/proto]") or long syntax.
type portSpec struct {
	HostIP, Published, Target, Protocol string
}

func (p *portSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s := n.Value
		if spec, proto, ok := strings.Cut(s, "/"); ok {
			s, p.Protocol = spec, proto
		}
		parts := strings.Split(s, ":")
		p.Target = parts[len(parts)-1]
		if len(parts) >= 2 {
			p.Published = parts[len(parts)-2]
		}
		if len(parts) >= 3 {
			p.HostIP = strings.Join(parts[:len(parts)-2], ":")
		}
		return nil
	}
	var long struct {
		Target    any    `yaml:"target"`
		Published any    `yaml:"published"`
		HostIP    string `yaml:"host_ip"`
		Protocol  string `yaml:"protocol"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	p.Target, p.HostIP, p.Protocol = fmt.Sprint(long.Target), long.HostIP, long.Protocol
	if long.Published != nil {
		p.Published = fmt.Sprint(long.Published)
	}
	return nil
}

// dependsOn maps each dependency to its condition (the list form means service_started).
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = "service_started"
		}
		return nil
	}
	var long map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	for name, v := range long {
		if v.Condition == "" {
			v.Condition = "service_started"
		}
		(*d)[name] = v.Condition
	}
	return nil
}

// volumeMount is one entry of a service's volumes, short ("src:dst[:mode]") or long syntax. Type is "volume"
// (named or anonymous), "bind" or whatever the long syntax says.
type volumeMount struct {
	Type, Source, Target string
	ReadOnly             bool
}

func (v *volumeMount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, ":")
		switch len(parts) {
		case 1:
			v.Type, v.Target = "volume", parts[0]
			return nil
		case 2, 3:
			v.Source, v.Target = parts[0], parts[1]
			v.ReadOnly = len(parts) == 3 && strings.Contains(parts[2], "ro")
		default:
			return fmt.Errorf("line %d: cannot read volume %q", n.Line, n.Value)
		}
		v.Type = "volume"
		if strings.HasPrefix(v.Source, ".") || strings.HasPrefix(v.Source, "/") || strings.HasPrefix(v.Source, "~") {
			v.Type = "bind"
		}
		return nil
	}
	var long struct {
		Type     string `yaml:"type"`
		Source   string `yaml:"source"`
		Target   string `yaml:"target"`
		ReadOnly bool   `yaml:"read_only"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	*v = volumeMount{Type: long.Type, Source: long.Source, Target: long.Target, ReadOnly: long.ReadOnly}
	return nil
}

// parseCompose parses a compose file, interpolating every scalar value (not keys) through lookup as Compose
// does. It returns the file, every variable reference, and the interpolation errors (missing required
// variables) joined; the file is still returned when only interpolation failed.
func parseCompose(data []byte, lookup func(string) (string, bool)) (*composeFile, []varRef, []error, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, nil, err
	}
	var refs []varRef
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		case yaml.ScalarNode:
			if n.Tag != "!!str" || !strings.Contains(n.Value, "$") {
				return
			}
			v, r, err := interpolate(n.Value, lookup)
			refs = append(refs, r...)
			if err != nil {
				errs = append(errs, fmt.Errorf("line %d: %w", n.Line, err))
				return
			}
			n.Value = v
		case yaml.AliasNode: // its anchor is walked where it is defined
		}
	}
	walk(&root)
	var c composeFile
	if err := root.Decode(&c); err != nil {
		return nil, refs, errs, err
	}
	return &c, refs, errs, nil
}

// ---- Dockerfile --------------------------------------------------------------------------------------------

type instruction struct {
	Cmd   string   // upper case: FROM, RUN, COPY, ...
	Flags []string // leading --flag[=value] arguments
	Args  []string // the rest: JSON array elements, or whitespace-separated words
	Rest  string   // everything after the flags, as written (continuations joined)
	JSON  bool     // exec (JSON array) form
	Line  int
}

func (in instruction) flag(name string) (string, bool) {
	for _, f := range in.Flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

type stage struct {
	Base, Name string // FROM image and AS name
	Instrs     []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions. Comment lines (also inside continued
// instructions) and blank lines are dropped; a trailing backslash continues an instruction.
func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	var cur []string
	start := 0
	var instrs []instruction
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		line := strings.Join(cur, " ")
		cur = nil
		cmd, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Line: start}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.Flags = append(in.Flags, f)
			rest = strings.TrimSpace(r)
		}
		in.Rest = rest
		if strings.HasPrefix(rest, "[") && in.Cmd != "HEALTHCHECK" {
			if err := json.Unmarshal([]byte(rest), &in.Args); err != nil {
				return fmt.Errorf("line %d: %s: bad JSON array: %v", start, in.Cmd, err)
			}
			in.JSON = true
		} else {
			in.Args = strings.Fields(rest)
		}
		instrs = append(instrs, in)
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(cur) == 0 {
			start = n
		}
		cont := strings.HasSuffix(line, `\`)
		cur = append(cur, strings.TrimSpace(strings.TrimSuffix(line, `\`)))
		if !cont {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for _, in := range instrs {
		switch {
		case in.Cmd == "FROM":
			if len(in.Args) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", in.Line)
			}
			st := stage{Base: in.Args[0]}
			if len(in.Args) == 3 && strings.EqualFold(in.Args[1], "AS") {
				st.Name = in.Args[2]
			}
			stages = append(stages, st)
		case len(stages) == 0:
			if in.Cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
			}
		default:
			stages[len(stages)-1].Instrs = append(stages[len(stages)-1].Instrs, in)
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return stages, nil
}

// healthcheckCmd returns the command of a HEALTHCHECK instruction (after its --options and CMD), and whether
// it is in exec (JSON) form.
func healthcheckCmd(in instruction) ([]string, bool, error) {
	rest := strings.TrimSpace(in.Rest)
	kw, cmd, _ := strings.Cut(rest, " ")
	switch strings.ToUpper(kw) {
	case "NONE":
		return nil, false, nil
	case "CMD":
	default:
		return nil, false, fmt.Errorf("line %d: HEALTHCHECK without CMD", in.Line)
	}
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, "[") {
		var args []string
		if err := json.Unmarshal([]byte(cmd), &args); err != nil {
			return nil, false, fmt.Errorf("line %d: HEALTHCHECK CMD: bad JSON array: %v", in.Line, err)
		}
		return args, true, nil
	}
	return []string{cmd}, false, nil
}

// envOf returns the ENV settings of a stage (KEY=VALUE pairs, or the legacy "ENV KEY VALUE").
func envOf(st stage) map[string]string {
	env := map[string]string{}
	for _, in := range st.Instrs {
		if in.Cmd != "ENV" || len(in.Args) == 0 {
			continue
		}
		if !strings.Contains(in.Args[0], "=") {
			env[in.Args[0]] = strings.Join(in.Args[1:], " ")
			continue
		}
		for _, kv := range in.Args {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = strings.Trim(v, `"'`)
		}
	}
	return env
}

// ---- .dockerignore -----------------------------------------------------------------------------------------

type ignoreRule struct {
	pattern string
	re      *regexp.Regexp
	negate  bool
}

// parseIgnore reads .dockerignore patterns: one per line, # comments, ! to re-include, ** for any depth.
func parseIgnore(text string) ([]ignoreRule, error) {
	var rules []ignoreRule
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{pattern: line}
		if strings.HasPrefix(line, "!") {
			r.negate, line = true, strings.TrimSpace(line[1:])
		}
		line = strings.Trim(strings.TrimPrefix(line, "./"), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		var err error
		if r.re, err = regexp.Compile(re.String()); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", r.pattern, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// ignored reports whether the build context leaves out path (slash-separated, relative to the context): the
// last rule that matches the path or one of its parent directories decides.
func ignored(rules []ignoreRule, path string) bool {
	path = strings.Trim(strings.TrimPrefix(path, "./"), "/")
	parts := strings.Split(path, "/")
	out := false
	for _, r := range rules {
		for i := 1; i <= len(parts); i++ {
			if r.re.MatchString(strings.Join(parts[:i], "/")) {
				out = !r.negate
				break
			}
		}
	}
	return out
}

// yamlUnmarshal parses plain YAML (for the checks that read other files than compose.yaml).
var yamlUnmarshal = yaml.Unmarshal

// ---- .env files --------------------------------------------------------------------------------------------

type envEntry struct {
	Value     string
	Commented bool // documented as "# KEY=value" (an optional setting)
	Line      int
}

var envLine = regexp.MustCompile(`^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// parseEnvFile reads KEY=VALUE lines; "# KEY=VALUE" lines are kept as commented (documented) entries, other
// comments are skipped. An uncommented entry wins over a commented one.
func parseEnvFile(text string) map[string]envEntry {
	out := map[string]envEntry{}
	for i, line := range strings.Split(text, "\n") {
		m := envLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		e := envEntry{Value: strings.Trim(strings.TrimSpace(m[3]), `"'`), Commented: m[1] != "", Line: i + 1}
		if old, ok := out[m[2]]; ok && !old.Commented && e.Commented {
			continue
		}
		out[m[2]] = e
	}
	return out
}
