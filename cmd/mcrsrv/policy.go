package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func policyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "manage policy rules in a stopped server's data directory",
		Commands: []*cli.Command{
			{
				Name:  "add",
				Usage: "create or replace a rule",
				Description: "Subjects: at most one of --subject-account, --subject-type, --subject-role; none\n" +
					"matches every caller, anonymous ones included. Without --repo the rule covers global\n" +
					"operations only (catalog, version_check, admin, policy:manage). Any deny wins.",
				Flags: offlineFlags(
					&cli.StringFlag{Name: "id", Required: true, Usage: "rule id (ids starting builtin: are reserved)"},
					&cli.IntFlag{Name: "priority", Value: apiv1.DefaultPriority, Usage: "evaluation order, lower first"},
					&cli.StringFlag{Name: "effect", Required: true, Usage: "allow or deny"},
					&cli.StringFlag{Name: "subject-account", Usage: "the account of this name"},
					&cli.StringFlag{Name: "subject-type", Usage: "accounts of this type: human, system or anonymous"},
					&cli.StringFlag{Name: "subject-role", Usage: "accounts with this role"},
					&cli.StringSliceFlag{Name: "action", Required: true, Usage: "action, repeatable: " + actionList()},
					&cli.StringSliceFlag{Name: "repo", Usage: "repository glob, repeatable: prod/* (one level), prod/** (any depth), **"},
					&cli.StringFlag{Name: "description", Usage: "free text"},
					&cli.BoolFlag{Name: "disabled", Usage: "store the rule disabled"},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					r := policy.Rule{
						ID: cmd.String("id"), Priority: cmd.Int("priority"), Effect: policy.Effect(cmd.String("effect")),
						Subject:      policy.Subject{AccountType: cmd.String("subject-type"), Role: cmd.String("subject-role")},
						Repositories: cmd.StringSlice("repo"), Description: cmd.String("description"), Enabled: !cmd.Bool("disabled"),
					}
					for _, a := range cmd.StringSlice("action") {
						r.Actions = append(r.Actions, policy.Action(a))
					}
					return withOffline(ctx, cmd, func(o *offline) error {
						return addRule(ctx, o, r, cmd.String("subject-account"), cmd.Root().Writer)
					})
				},
			},
			{
				Name:  "ls",
				Usage: "list the rules in evaluation order, built-ins included",
				Flags: offlineFlags(),
				Action: offlineAction(func(ctx context.Context, cmd *cli.Command, o *offline) error {
					return listRules(ctx, o, cmd.Root().Writer)
				}),
			},
			{
				Name:  "rm",
				Usage: "delete a rule",
				Flags: offlineFlags(&cli.StringFlag{Name: "id", Required: true, Usage: "rule id"}),
				Action: offlineAction(func(ctx context.Context, cmd *cli.Command, o *offline) error {
					return removeRule(ctx, o, cmd.String("id"), cmd.Root().Writer)
				}),
			},
		},
	}
}

func actionList() string {
	var s []string
	for _, a := range policy.Actions() {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

// engine opens the policy engine of o; changes are audit events by the
// operator of this process.
func (o *offline) engine(ctx context.Context) (*policy.Engine, context.Context, error) {
	e, err := policy.NewEngine(ctx, o.store, nil)
	if err != nil {
		return nil, nil, err
	}
	e.WithAudit(audit.Log{L: o.log})
	return e, audit.WithActor(ctx, audit.Actor{Name: "mcrsrv (offline)"}), nil
}

// addRule stores r, its subject naming account when that is set. Exactly
// one kind of subject is accepted: a rule for "role admin of type system"
// is expressible in the engine, but from a command line two subject flags
// are more often a mistake than an intent.
func addRule(ctx context.Context, o *offline, r policy.Rule, account string, w io.Writer) error {
	set := 0
	for _, s := range []string{account, r.Subject.AccountType, r.Subject.Role} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return fmt.Errorf("give at most one of --subject-account, --subject-type, --subject-role")
	}
	if account != "" {
		a, err := o.ids.AccountByName(ctx, account)
		if err != nil {
			return err
		}
		r.Subject.AccountID = a.ID
	}
	e, actx, err := o.engine(ctx)
	if err != nil {
		return err
	}
	_, existed := e.Rule(r.ID)
	if err := e.Put(actx, r); err != nil {
		return err
	}
	verb := "created"
	if existed {
		verb = "replaced"
	}
	_, err = fmt.Fprintf(w, "%s rule %s: %s\n", verb, r.ID, describeRule(r, map[string]string{r.Subject.AccountID: account}))
	return err
}

func removeRule(ctx context.Context, o *offline, id string, w io.Writer) error {
	e, actx, err := o.engine(ctx)
	if err != nil {
		return err
	}
	found, err := e.Delete(actx, id)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no rule %s", id)
	}
	_, err = fmt.Fprintf(w, "deleted rule %s\n", id)
	return err
}

// listRules prints every rule in evaluation order, naming accounts.
func listRules(ctx context.Context, o *offline, w io.Writer) error {
	e, _, err := o.engine(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	accts, err := o.ids.Accounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accts {
		names[a.ID] = a.Name
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPRIORITY\tEFFECT\tSUBJECT\tACTIONS\tREPOSITORIES\tENABLED\tDESCRIPTION")
	for _, r := range e.Rules() {
		acts := make([]string, len(r.Actions))
		for i, a := range r.Actions {
			acts[i] = string(a)
		}
		repos := strings.Join(r.Repositories, ",")
		if repos == "" {
			repos = "(global)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%t\t%s\n", r.ID, r.Priority, r.Effect, subjectString(r.Subject, names),
			strings.Join(acts, ","), repos, r.Enabled, r.Description)
	}
	return tw.Flush()
}

// subjectString spells a subject as apiv1.Subject does, naming its
// account: "account=ci(id)", or "account=id(deleted?)" when no account has
// that id any more.
func subjectString(s policy.Subject, names map[string]string) string {
	shown := apiv1.Subject{AccountType: s.AccountType, Role: s.Role}
	if s.AccountID != "" {
		shown.AccountID = s.AccountID + "(deleted?)"
		if n := names[s.AccountID]; n != "" {
			shown.AccountID = n + "(" + s.AccountID + ")"
		}
	}
	return shown.String()
}

func describeRule(r policy.Rule, names map[string]string) string {
	acts := make([]string, len(r.Actions))
	for i, a := range r.Actions {
		acts[i] = string(a)
	}
	where := "global operations"
	if len(r.Repositories) > 0 {
		where = strings.Join(r.Repositories, ", ")
	}
	state := ""
	if !r.Enabled {
		state = " (disabled)"
	}
	return fmt.Sprintf("%s %s %s on %s, priority %d%s", r.Effect, subjectString(r.Subject, names), strings.Join(acts, ","), where, r.Priority, state)
}
