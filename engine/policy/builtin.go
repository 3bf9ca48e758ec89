package policy

import "math"

// builtInPriority puts the built-ins after every stored rule of default
// priority; with deny-wins the order only chooses which allow is reported.
const builtInPriority = math.MaxInt32

// BuiltIns returns the rules every registry has (docs/design.md §6): admins may
// do everything; human users may pull, push and delete anywhere and list
// the catalog; anyone may check the API version. Denying one of these to a
// subject needs a deny rule: deny wins.
func BuiltIns() []Rule {
	every := Actions()
	return []Rule{
		{
			ID: BuiltInPrefix + "admin", Priority: builtInPriority, Effect: Allow, Enabled: true, BuiltIn: true,
			Description: "admins may do everything in every repository",
			Subject:     Subject{Role: "admin"}, Actions: every, Repositories: []string{"**"},
		},
		{
			ID: BuiltInPrefix + "admin-global", Priority: builtInPriority, Effect: Allow, Enabled: true, BuiltIn: true,
			Description: "admins may do every global operation",
			Subject:     Subject{Role: "admin"}, Actions: every,
		},
		{
			ID: BuiltInPrefix + "human", Priority: builtInPriority, Effect: Allow, Enabled: true, BuiltIn: true,
			Description: "human users may pull, push and delete in every repository",
			Subject:     Subject{AccountType: "human"}, Actions: []Action{Pull, Push, Delete}, Repositories: []string{"**"},
		},
		{
			ID: BuiltInPrefix + "human-catalog", Priority: builtInPriority, Effect: Allow, Enabled: true, BuiltIn: true,
			Description: "human users may list the catalog",
			Subject:     Subject{AccountType: "human"}, Actions: []Action{Catalog},
		},
		{
			ID: BuiltInPrefix + "version-check", Priority: builtInPriority, Effect: Allow, Enabled: true, BuiltIn: true,
			Description: "anyone may check the API version",
			Actions:     []Action{VersionCheck},
		},
	}
}
