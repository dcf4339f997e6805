package slipstream

import (
	"regexp"
	"sort"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
)

// A SlipStream script runs unchanged under the agent when it uses the
// ss-* commands and SLIPSTREAM_* variables the agent provides
// (docs/ss-commands.md). The import reads each script it keeps for the
// others, so the report says which scripts will fail and where.

var (
	// ssCommandRE finds an ss-* command name standing as a word.
	ssCommandRE = regexp.MustCompile(`(?:^|[^\w.-])(ss-[a-z][a-z-]*[a-z])`)
	// slipstreamVarRE finds a SLIPSTREAM_* variable read by a shell
	// ($NAME, ${NAME}) or another language (os.environ["NAME"], $ENV{NAME}).
	slipstreamVarRE = regexp.MustCompile(`\b(SLIPSTREAM_[A-Z0-9_]*[A-Z0-9])\b`)
)

// scaleHookOnly are variables whose only caveat is that prescale and
// postscale do not run: those targets are reported on their own, and in
// the hooks that do run (on_vm_add, on_vm_remove) the variables mean what
// they meant.
var scaleHookOnly = map[string]bool{"SLIPSTREAM_SCALING_NODE": true, "SLIPSTREAM_SCALING_VMS": true}

// checkScript notes what a script kept at path uses that the agent does
// not give it, with the line of its first use. Comment lines are skipped.
func (cv *converter) checkScript(m *Module, path, script string) {
	commands, variables := map[string]int{}, map[string]int{}
	for i, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, sm := range ssCommandRE.FindAllStringSubmatch(line, -1) {
			if _, seen := commands[sm[1]]; !seen {
				commands[sm[1]] = i + 1
			}
		}
		for _, sm := range slipstreamVarRE.FindAllStringSubmatch(line, -1) {
			if _, seen := variables[sm[1]]; !seen {
				variables[sm[1]] = i + 1
			}
		}
	}
	for _, name := range sortedByLine(commands) {
		if c, missing := agent.MissingCommand(name); missing {
			cv.notes.todo(m, "%s, line %d, calls %s, which the agent does not provide: %s", path, commands[name], name, c.Here)
		}
	}
	for _, name := range sortedByLine(variables) {
		if v, missing := agent.MissingVariable(name); missing {
			cv.notes.todo(m, "%s, line %d, reads %s, which the agent does not set: %s", path, variables[name], name, v.Here)
			continue
		}
		if scaleHookOnly[name] {
			continue
		}
		for _, v := range agent.SlipStreamVariables {
			if v.Name == name && v.Provided && v.Caveat != "" {
				cv.notes.add(m, "%s, line %d, reads %s, which the agent sets, but %s", path, variables[name], name, v.Caveat)
			}
		}
	}
}

// sortedByLine lists names by the line they were first seen on, then by
// name.
func sortedByLine(first map[string]int) []string {
	names := sortedKeys(first)
	sort.SliceStable(names, func(i, j int) bool { return first[names[i]] < first[names[j]] })
	return names
}
