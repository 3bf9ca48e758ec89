package adminsvc

import (
	"context"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func event(e audit.Entry) apiv1.Event {
	ev := apiv1.Event{
		Seq: e.Seq, Time: e.Time.UTC(), Type: string(e.Kind), AccountID: e.AccountID, AccountName: e.AccountName,
		AccountType: e.AccountType, Remote: e.Remote, Action: e.Action, Repository: e.Repository, Digest: e.Digest,
		Outcome: e.Outcome, Detail: e.Detail, Cursor: e.Cursor, Hash: e.Hash, Prev: e.Prev,
	}
	if e.Count > 1 {
		ev.Count = e.Count
	}
	return ev
}

func eventPage(p audit.Page) apiv1.EventPage {
	return apiv1.EventPage{Events: docs(p.Events, event), Next: p.Next}
}

func (s *Service) journal() (*audit.Journal, error) {
	if s.d.Journal == nil {
		return nil, errNotManaged("audit events")
	}
	return s.d.Journal, nil
}

// QueryAudit pages through the events f matches after cursor.
func (s *Service) QueryAudit(ctx context.Context, f audit.Filter, cursor string, n int) (apiv1.EventPage, error) {
	j, err := s.journal()
	if err != nil {
		return apiv1.EventPage{}, err
	}
	p, err := j.Query(ctx, f, cursor, n)
	if err != nil {
		return apiv1.EventPage{}, err
	}
	return eventPage(p), nil
}

// FollowAudit is QueryAudit for a follower: when nothing after cursor
// matches yet, it waits (at most wait, up to audit.MaxWait) for new
// events. Next is always where to continue, even on an empty page.
func (s *Service) FollowAudit(ctx context.Context, f audit.Filter, cursor string, n int, wait time.Duration) (apiv1.EventPage, error) {
	j, err := s.journal()
	if err != nil {
		return apiv1.EventPage{}, err
	}
	if wait < 0 || wait > audit.MaxWait {
		// A parameter of the paging, like n: a bad request (400).
		return apiv1.EventPage{}, errcode.New(errcode.PaginationInvalid, "wait: want a duration up to %s, like 30s", audit.MaxWait)
	}
	p, err := j.Follow(ctx, f, cursor, n, wait)
	if err != nil {
		return apiv1.EventPage{}, err
	}
	return eventPage(p), nil
}

// VerifyAudit walks the hash chain. A broken chain is a finding, not a
// failure: OK false and where it broke.
func (s *Service) VerifyAudit(ctx context.Context) (apiv1.Verification, error) {
	j, err := s.journal()
	if err != nil {
		return apiv1.Verification{}, err
	}
	rep, err := j.Verify(ctx)
	if err != nil {
		return apiv1.Verification{}, err
	}
	out := apiv1.Verification{OK: rep.OK(), Events: rep.Checked, First: rep.First, Last: rep.Last, Head: rep.Head}
	if rep.Broken != nil {
		out.Broken = &apiv1.Break{Seq: rep.Broken.Seq, Reason: rep.Broken.Reason}
	}
	return out, nil
}
