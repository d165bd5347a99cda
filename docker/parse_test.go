package docker_test

// Loading the files under docker/ with the libraries Docker itself is built on: compose-go for compose.yaml
// (the Compose Specification schema, ${VAR} interpolation, normalisation) and BuildKit's Dockerfile parser and
// instruction reader for the Dockerfile. .dockerignore patterns are read and matched with
// moby/patternmatcher (as docker build does). What has no library stays small: .env.example, whose "# KEY=value"
// lines document optional settings. The checks are tested in checks_test.go.

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/sirupsen/logrus"
	"gopkg.in/yaml.v3"
)

// compose-go warns through logrus about every unset variable; the checks report what matters themselves.
func init() { logrus.SetLevel(logrus.ErrorLevel) }

// ---- compose.yaml ------------------------------------------------------------------------------------------

type (
	composeFile = types.Project
	service     = types.ServiceConfig
	// varRef is one variable compose.yaml interpolates, with its default (${X:-d}) or whether it is required
	// (${X:?msg}); a variable used several times is combined (required if any use is).
	varRef = template.Variable
)

// required reports whether a reference has no default: Compose then substitutes an empty string (plain ${NAME})
// or stops (${NAME:?msg}).
func required(r varRef) bool { return r.Required || (r.DefaultValue == "" && r.PresenceValue == "") }

// parseCompose loads a compose file the way docker compose does, interpolating through lookup, with every
// profile enabled. Paths stay relative to the file, and the consistency checks (undeclared volumes, unknown
// depends_on) are left to the checks of docker_test.go, which name the problem. It returns the project and
// every variable the file references (also inside defaults); err is the first interpolation or schema error.
func parseCompose(data []byte, lookup func(string) (string, bool)) (*composeFile, map[string]varRef, error) {
	dict, err := yamlDict(data)
	if err != nil {
		return nil, nil, err
	}
	refs := template.ExtractVariables(dict, nil)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  ".",
		ConfigFiles: []types.ConfigFile{{Filename: "compose.yaml", Content: data}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("parley-check", true)
		o.SkipConsistencyCheck = true
		o.SkipResolveEnvironment = true
		o.ResolvePaths = false
		o.Profiles = []string{"*"}
		o.Interpolate.LookupValue = lookup
	})
	return p, refs, err
}

// yamlDict reads a compose file as plain YAML (anchors and merge keys resolved, nothing interpolated).
func yamlDict(data []byte) (map[string]any, error) {
	var dict map[string]any
	if err := yaml.Unmarshal(data, &dict); err != nil {
		return nil, err
	}
	return dict, nil
}

// composeStrings returns every string value of a compose file (not keys), for checks on how each one is written.
func composeStrings(data []byte) ([]string, error) {
	dict, err := yamlDict(data)
	if err != nil {
		return nil, err
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(dict)
	return out, nil
}

// substitute interpolates one string as Compose does (for the secret checks and to pin the semantics we rely on).
func substitute(s string, lookup func(string) (string, bool)) (string, error) {
	return template.Substitute(s, lookup)
}

// ---- Dockerfile --------------------------------------------------------------------------------------------

type stage = instructions.Stage

// parseDockerfile reads a Dockerfile into its build stages with BuildKit (continuations, comments, heredocs,
// exec and shell forms, flags); instructions before the first FROM other than ARG are an error, as in a build.
func parseDockerfile(text string) ([]stage, error) {
	res, err := parser.Parse(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return stages, nil
}

// line is where an instruction starts in the Dockerfile.
func line(c instructions.Command) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// runLine is a RUN's command as one string (shell form: as written; exec form: its words).
func runLine(c instructions.Command) (string, bool) {
	if r, ok := c.(*instructions.RunCommand); ok {
		return strings.Join(r.CmdLine, " "), true
	}
	return "", false
}

// healthcheckCmd returns the command of a HEALTHCHECK (nil for NONE), and whether it is in exec (JSON) form.
func healthcheckCmd(h *instructions.HealthCheckCommand) ([]string, bool, error) {
	test := h.Health.Test
	switch {
	case len(test) == 0 || test[0] == "NONE":
		return nil, false, nil
	case test[0] == "CMD":
		return test[1:], true, nil
	case test[0] == "CMD-SHELL":
		return test[1:], false, nil
	}
	return nil, false, fmt.Errorf("line %d: HEALTHCHECK %q", line(h), test)
}

// envOf returns the ENV settings of a stage.
func envOf(st stage) map[string]string {
	env := map[string]string{}
	for _, c := range st.Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				env[kv.Key] = kv.Value
			}
		}
	}
	return env
}

// ---- .dockerignore -----------------------------------------------------------------------------------------

// ignoreRules are the patterns of a .dockerignore, matched by the library docker and BuildKit use.
type ignoreRules = *patternmatcher.PatternMatcher

// parseIgnore reads .dockerignore patterns: one per line, # comments, ! to re-include, ** for any depth.
func parseIgnore(text string) (ignoreRules, error) {
	patterns, err := ignorefile.ReadAll(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}

// ignored reports whether the build context leaves out path (slash-separated, relative to the context): the
// last pattern that matches the path or one of its parent directories decides.
func ignored(rules ignoreRules, path string) bool {
	out, err := rules.MatchesOrParentMatches(filepath.FromSlash(strings.Trim(strings.TrimPrefix(path, "./"), "/")))
	return err == nil && out
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
