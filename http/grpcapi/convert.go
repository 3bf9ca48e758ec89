package grpcapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// The conversions from the service layer's documents (apiv1) to mcr.v1
// messages: field for field, so both surfaces say the same.

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func tsp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// timeOf is a request's optional time: the zero time when unset.
func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// pageOf checks a request's page size (0: the default).
func pageOf(n int32) (int, error) { return adminsvc.CheckPage(int(n)) }

// pageRequest is a listing's request within a repository ("" for all).
type pageRequest interface {
	GetRepository() string
	GetCursor() string
	GetPageSize() int32
}

// pageIn reads the page req asks for with list, its size checked first.
func pageIn[P any](ctx context.Context, req pageRequest, list func(ctx context.Context, repo, cursor string, n int) (P, error)) (P, error) {
	n, err := pageOf(req.GetPageSize())
	if err != nil {
		var zero P
		return zero, err
	}
	return list(ctx, req.GetRepository(), req.GetCursor(), n)
}

// empty answers an RPC whose response says nothing: the empty R, or err,
// as empty[mcrv1.XResponse](s.o.Service.Method(...)).
func empty[R any](err error) (*R, error) {
	if err != nil {
		return nil, err
	}
	return new(R), nil
}

func pbJob(j apiv1.Job) *mcrv1.Job {
	return &mcrv1.Job{
		Kind: j.Kind, State: j.State, Started: tsp(j.Started), Finished: tsp(j.Finished), Done: j.Done, Total: j.Total,
		Note: j.Note, Runs: j.Runs, Next: tsp(j.Next), ResultJson: string(j.Result), Error: j.Error,
	}
}

// each converts every element of xs with f.
func each[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func pbJobs(js []apiv1.Job) []*mcrv1.Job { return each(js, pbJob) }

func pbRepository(r apiv1.Repository) *mcrv1.Repository {
	return &mcrv1.Repository{Name: r.Name, Created: ts(r.Created), Tags: r.Tags, Manifests: r.Manifests, SizeBytes: r.SizeBytes, LastPush: tsp(r.LastPush)}
}

func pbDescriptor(d apiv1.Descriptor) *mcrv1.Descriptor {
	return &mcrv1.Descriptor{MediaType: d.MediaType, ArtifactType: d.ArtifactType, Digest: d.Digest, Size: d.Size, Annotations: d.Annotations}
}

func pbDescriptors(ds []apiv1.Descriptor) []*mcrv1.Descriptor { return each(ds, pbDescriptor) }

func pbManifest(m apiv1.Manifest) *mcrv1.Manifest {
	out := &mcrv1.Manifest{
		Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Size: m.Size, Created: ts(m.Created),
		Tags: m.Tags, Subject: m.Subject, Layers: pbDescriptors(m.Layers), Referrers: pbDescriptors(m.Referrers), Raw: m.Raw,
	}
	if m.Config != nil {
		out.Config = pbDescriptor(*m.Config)
	}
	for _, p := range m.Platforms {
		pm := &mcrv1.PlatformManifest{Digest: p.Digest}
		if p.Platform != nil {
			pm.Platform = &mcrv1.Platform{Architecture: p.Platform.Architecture, Os: p.Platform.OS, Variant: p.Platform.Variant, OsVersion: p.Platform.OSVersion}
		}
		out.Platforms = append(out.Platforms, pm)
	}
	return out
}

func pbTag(t apiv1.Tag) *mcrv1.Tag { return &mcrv1.Tag{Name: t.Name, Digest: t.Digest} }

func pbUpload(u apiv1.Upload) *mcrv1.Upload {
	return &mcrv1.Upload{Id: u.ID, Repository: u.Repository, Bytes: u.Bytes, Started: ts(u.Started), LastWrite: tsp(u.LastWrite)}
}

func pbRule(r apiv1.Rule) *mcrv1.Rule {
	return &mcrv1.Rule{
		Id: r.ID, Priority: int32(r.Priority), Description: r.Description, Effect: r.Effect,
		Subject: &mcrv1.Subject{AccountId: r.Subject.AccountID, AccountType: r.Subject.AccountType, Role: r.Subject.Role},
		Actions: r.Actions, Repositories: r.Repositories, Enabled: r.Enabled, Builtin: r.BuiltIn,
	}
}

// ruleOf is a request's rule; a missing rule is an empty one, which the
// policy engine refuses with its own message.
func ruleOf(r *mcrv1.Rule) apiv1.Rule {
	out := apiv1.Rule{
		ID: r.GetId(), Priority: int(r.GetPriority()), Description: r.GetDescription(), Effect: r.GetEffect(),
		Actions: r.GetActions(), Repositories: r.GetRepositories(), Enabled: r.GetEnabled(),
	}
	if sub := r.GetSubject(); sub != nil {
		out.Subject = apiv1.Subject{AccountID: sub.AccountId, AccountType: sub.AccountType, Role: sub.Role}
	}
	return out
}

func pbAccount(a apiv1.Account) *mcrv1.Account {
	return &mcrv1.Account{Id: a.ID, Name: a.Name, Type: a.Type, Roles: a.Roles, Enabled: a.Enabled, Created: ts(a.Created)}
}

func pbAccessKey(k apiv1.AccessKey) *mcrv1.AccessKey {
	return &mcrv1.AccessKey{Id: k.ID, Account: k.Account, Description: k.Description, Created: ts(k.Created), Revoked: tsp(k.Revoked)}
}

func pbEvent(e apiv1.Event) *mcrv1.Event {
	return &mcrv1.Event{
		Seq: e.Seq, Time: ts(e.Time), Type: e.Type, AccountId: e.AccountID, AccountName: e.AccountName, AccountType: e.AccountType,
		Remote: e.Remote, Action: e.Action, Repository: e.Repository, Digest: e.Digest, Outcome: e.Outcome, Detail: e.Detail,
		Cursor: e.Cursor, Hash: e.Hash, Prev: e.Prev, Count: e.Count,
	}
}

func pbFilesystem(f apiv1.Filesystem) *mcrv1.Filesystem {
	return &mcrv1.Filesystem{
		Names: f.Names, Path: f.Path, SizeBytes: f.SizeBytes, FreeBytes: f.FreeBytes, FloorBytes: f.FloorBytes,
		Inodes: f.Inodes, FreeInodes: f.FreeInodes, FloorInodes: f.FloorInodes,
		ReserveBytes: f.ReserveBytes, ReserveSize: f.ReserveSize, BelowFloor: f.BelowFloor, Reason: f.Reason,
	}
}

func pbEvents(es []apiv1.Event) []*mcrv1.Event { return each(es, pbEvent) }

// filterOf is a request's audit filter.
func filterOf(f *mcrv1.AuditFilter) audit.Filter {
	out := audit.Filter{
		Actor: f.GetActor(), Repository: f.GetRepository(), Digest: f.GetDigest(), Outcome: f.GetOutcome(),
		Since: timeOf(f.GetSince()), Until: timeOf(f.GetUntil()),
	}
	for _, k := range f.GetTypes() {
		out.Kinds = append(out.Kinds, audit.Kind(k))
	}
	return out
}
