package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func rulePath(id string) string { return apiv1.Prefix + "/policy/rules/" + escapeSegments(id) }

// ruleFlags are the flags that make a rule on add and update.
func ruleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the rule as JSON (docs/security.md); - for standard input; excludes the other rule flags"},
		&cli.StringFlag{Name: "id", Usage: "rule id"},
		&cli.IntFlag{Name: "priority", Value: apiv1.DefaultPriority, Usage: "evaluation order, lower first"},
		&cli.StringFlag{Name: "effect", Usage: "allow or deny"},
		&cli.StringSliceFlag{Name: "actions", Usage: "actions, comma separated or repeated: pull, push, delete, catalog, admin, policy:manage, ..."},
		&cli.StringSliceFlag{Name: "repositories", Usage: "repository globs, comma separated or repeated: prod/* (one level), prod/** (any depth)"},
		&cli.StringFlag{Name: "account-type", Usage: "subject: accounts of this type (human, system, anonymous)"},
		&cli.StringFlag{Name: "role", Usage: "subject: accounts with this role"},
		&cli.StringFlag{Name: "account-id", Usage: "subject: the account of this id"},
		&cli.StringFlag{Name: "description", Usage: "free text"},
		&cli.BoolFlag{Name: "disabled", Usage: "store the rule disabled"},
	}
}

// ruleFlagNames are the flags that --file excludes.
var ruleFlagNames = []string{"id", "priority", "effect", "actions", "repositories", "account-type", "role", "account-id", "description", "disabled"}

// applyRuleFlags sets on r the rule flags given on cmd.
func applyRuleFlags(cmd *cli.Command, r *apiv1.Rule) {
	for name, field := range map[string]*string{
		"id": &r.ID, "effect": &r.Effect, "description": &r.Description,
		"account-type": &r.Subject.AccountType, "role": &r.Subject.Role, "account-id": &r.Subject.AccountID,
	} {
		if cmd.IsSet(name) {
			*field = cmd.String(name)
		}
	}
	for name, field := range map[string]*[]string{"actions": &r.Actions, "repositories": &r.Repositories} {
		if cmd.IsSet(name) {
			*field = cmd.StringSlice(name)
		}
	}
	if cmd.IsSet("priority") {
		r.Priority = cmd.Int("priority")
	}
	if cmd.IsSet("disabled") {
		r.Enabled = !cmd.Bool("disabled")
	}
}

// ruleFromFile reads a rule document: unknown fields are refused here, as
// the server would, with the file's name in the message. A document
// without "enabled" is an enabled rule, one without "priority" has the
// default priority (as the --priority flag).
func ruleFromFile(cmd *cli.Command, s *streams) (apiv1.Rule, error) {
	for _, f := range ruleFlagNames {
		if cmd.IsSet(f) {
			return apiv1.Rule{}, usagef("--file excludes --%s", f)
		}
	}
	name := cmd.String("file")
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(s.In, 1<<20))
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return apiv1.Rule{}, err
	}
	r := apiv1.NewRule()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return apiv1.Rule{}, usagef("%s: not a rule: %v", name, err)
	}
	return r, nil
}

func policyCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "manage policy rules and ask who decides a request",
		Commands: []*cli.Command{
			{
				Name:  "ls",
				Usage: "list the rules, built-ins included",
				Action: callAction(s, 0, "", "GET", func([]string) string { return apiv1.Prefix + "/policy/rules" }, func(cmd *cli.Command, s *streams, l apiv1.RuleList) error {
					l.Rules = nonNil(l.Rules)
					return printList(cmd, s, l, l.Rules,
						[]string{"ID", "PRIORITY", "EFFECT", "SUBJECT", "ACTIONS", "REPOSITORIES", "ENABLED", "DESCRIPTION"},
						func(r apiv1.Rule) []any {
							return []any{r.ID, r.Priority, r.Effect, r.Subject.String(), strings.Join(r.Actions, ","),
								orDash(strings.Join(r.Repositories, ",")), r.Enabled, orDash(r.Description)}
						})
				}),
			},
			{
				Name:      "show",
				Usage:     "show one rule",
				ArgsUsage: "ID",
				Action:    ruleAction(s, "GET", ""),
			},
			{
				Name:  "add",
				Usage: "create a rule (409, exit 5, when the id exists)",
				Flags: ruleFlags(),
				Action: withChecked(s, func(cmd *cli.Command) (apiv1.Rule, error) {
					if err := wantArgs(cmd, 0, ""); err != nil {
						return apiv1.Rule{}, err
					}
					if cmd.IsSet("file") {
						return ruleFromFile(cmd, s)
					}
					r := apiv1.Rule{Priority: cmd.Int("priority"), Enabled: true}
					applyRuleFlags(cmd, &r)
					if r.ID == "" || r.Effect == "" || len(r.Actions) == 0 {
						return r, usagef("policy add needs --id, --effect and --actions (or --file)")
					}
					return r, nil
				}, func(ctx context.Context, cmd *cli.Command, c *client, r apiv1.Rule) error {
					var out apiv1.Rule
					if err := c.do(ctx, "POST", apiv1.Prefix+"/policy/rules", nil, r, &out); err != nil {
						return err
					}
					return printRule(cmd, s, out)
				}),
			},
			{
				Name:      "update",
				Usage:     "change a rule: the flags given replace those fields, --file replaces the whole rule",
				ArgsUsage: "ID",
				Flags:     ruleFlags(),
				Action: withClient(s, 1, "ID", func(ctx context.Context, cmd *cli.Command, c *client, args []string) error {
					id := args[0]
					var r apiv1.Rule
					if cmd.IsSet("file") {
						var err error
						if r, err = ruleFromFile(cmd, s); err != nil {
							return err
						}
					} else {
						if err := c.do(ctx, "GET", rulePath(id), nil, nil, &r); err != nil {
							return err
						}
						applyRuleFlags(cmd, &r)
					}
					if r.ID == "" {
						r.ID = id
					}
					r.BuiltIn = false
					var out apiv1.Rule
					if err := c.do(ctx, "PUT", rulePath(id), nil, r, &out); err != nil {
						return err
					}
					return printRule(cmd, s, out)
				}),
			},
			{
				Name:      "rm",
				Usage:     "delete a rule",
				ArgsUsage: "ID",
				Action:    deleteAction(s, "ID", rulePath, "deleted rule %s\n"),
			},
			{
				Name:      "enable",
				Usage:     "enable a rule",
				ArgsUsage: "ID",
				Action:    ruleAction(s, "POST", "/enable"),
			},
			{
				Name:      "disable",
				Usage:     "disable a rule",
				ArgsUsage: "ID",
				Action:    ruleAction(s, "POST", "/disable"),
			},
			{
				Name:  "test",
				Usage: "ask which rule decides a request; exit 0 when allowed, 1 when denied",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "account", Usage: "account name or id (none of --account, --account-type, --role: an anonymous caller)"},
					&cli.StringFlag{Name: "account-type", Usage: "a hypothetical caller of this type (human, system)"},
					&cli.StringSliceFlag{Name: "role", Usage: "a hypothetical caller's roles, comma separated or repeated"},
					&cli.StringFlag{Name: "action", Required: true, Usage: "the action: pull, push, delete, catalog, admin, policy:manage, ..."},
					&cli.StringFlag{Name: "repository", Usage: "the repository, for repository actions"},
				},
				Action: withChecked(s, func(cmd *cli.Command) (apiv1.EvaluateRequest, error) {
					req := apiv1.EvaluateRequest{
						Account: cmd.String("account"), AccountType: cmd.String("account-type"), Roles: cmd.StringSlice("role"),
						Action: cmd.String("action"), Repository: cmd.String("repository"),
					}
					if err := wantArgs(cmd, 0, ""); err != nil {
						return req, err
					}
					if req.Account != "" && (req.AccountType != "" || len(req.Roles) > 0) {
						return req, usagef("--account excludes --account-type and --role")
					}
					return req, nil
				}, func(ctx context.Context, cmd *cli.Command, c *client, req apiv1.EvaluateRequest) error {
					var d apiv1.Decision
					if err := c.do(ctx, "POST", apiv1.Prefix+"/policy/evaluate", nil, req, &d); err != nil {
						return err
					}
					err := printFields(cmd, s, d, func(tw io.Writer) {
						verdict := "denied"
						if d.Allowed {
							verdict = "allowed"
						}
						row(tw, "decision", verdict)
						row(tw, "reason", d.Reason)
						if d.Rule != nil {
							row(tw, "rule", fmt.Sprintf("%s (%s, priority %d)", d.Rule.ID, d.Rule.Effect, d.Rule.Priority))
						} else {
							row(tw, "rule", "- (no rule matched: denied by default)")
						}
					})
					if err != nil {
						return err
					}
					if !d.Allowed {
						return &codeError{code: exitError, msg: "denied: " + d.Reason}
					}
					return nil
				}),
			},
		},
	}
}

// ruleAction is the Action of a call on one rule by id (method on the
// rule's path plus suffix) that answers the rule.
func ruleAction(s *streams, method, suffix string) cli.ActionFunc {
	return callAction(s, 1, "ID", method, func(args []string) string { return rulePath(args[0]) + suffix }, printRule)
}

func printRule(cmd *cli.Command, s *streams, r apiv1.Rule) error {
	return printFields(cmd, s, r, func(tw io.Writer) {
		row(tw, "id", r.ID)
		row(tw, "priority", r.Priority)
		row(tw, "effect", r.Effect)
		row(tw, "subject", r.Subject.String())
		row(tw, "actions", strings.Join(r.Actions, ","))
		row(tw, "repositories", orDash(strings.Join(r.Repositories, ",")))
		row(tw, "enabled", r.Enabled)
		row(tw, "builtin", r.BuiltIn)
		row(tw, "description", orDash(r.Description))
	})
}
