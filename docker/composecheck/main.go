// Command composecheck loads a compose file with compose-go, the library `docker compose` itself uses: the
// Compose Specification JSON schema, ${VAR} interpolation (with an --env-file), path resolution and the
// consistency checks (depends_on, networks and volumes that exist). It is `docker compose config` without a
// Docker engine or the compose plugin, for docker/lint.sh. A separate Go module (like cmd/ferretdb), so its
// dependencies stay out of the server's go.mod.
//
//	composecheck [--env-file FILE] [--print] COMPOSE_FILE...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	envFile := flag.String("env-file", "", "env file for interpolation (default: none)")
	printModel := flag.Bool("print", false, "print the resolved model as YAML")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: composecheck [--env-file FILE] [--print] COMPOSE_FILE...")
		os.Exit(2)
	}
	if err := run(*envFile, *printModel, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
}

func run(envFile string, printModel bool, files []string) error {
	// Like docker compose: the project directory is the first file's directory, so relative paths (build
	// context, bind mounts) resolve against it.
	dir, err := filepath.Abs(filepath.Dir(files[0]))
	if err != nil {
		return err
	}
	var envFiles []string
	if envFile != "" {
		envFiles = []string{envFile}
	}
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(dir),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return err
	}
	if envFile == "" {
		opts.EnvFiles = nil // never pick up a real docker/.env implicitly
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	if printModel {
		out, err := p.MarshalYAML()
		if err != nil {
			return err
		}
		os.Stdout.Write(out)
		return nil
	}
	var names []string
	for name, s := range p.Services {
		img := s.Image
		if s.Build != nil {
			img = "build " + s.Build.Dockerfile
		}
		names = append(names, name+" ("+img+")")
	}
	sort.Strings(names)
	fmt.Printf("%s: valid (project %q; services: %s)\n", strings.Join(files, ", "), p.Name, strings.Join(names, ", "))
	return nil
}
