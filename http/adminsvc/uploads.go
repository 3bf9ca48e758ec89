package adminsvc

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// Uploads pages through the open upload sessions in id order, those of
// repo only when it is not "".
func (s *Service) Uploads(ctx context.Context, repo, cursor string, n int) (apiv1.UploadPage, error) {
	if repo != "" {
		if err := names.Repo(repo); err != nil {
			return apiv1.UploadPage{}, err
		}
	}
	infos, more, err := s.d.Registry.UploadInfos(ctx, repo, cursor, n)
	if err != nil {
		return apiv1.UploadPage{}, err
	}
	out := apiv1.UploadPage{Uploads: make([]apiv1.Upload, 0, len(infos))}
	for _, info := range infos {
		out.Uploads = append(out.Uploads, upload(info))
	}
	if more {
		out.Next = infos[len(infos)-1].ID
	}
	return out, nil
}

func upload(info engine.UploadInfo) apiv1.Upload {
	return apiv1.Upload{ID: info.ID, Repository: info.Repo, Bytes: info.Bytes, Started: info.Started, LastWrite: timeOrNil(info.LastWrite)}
}

// DeleteUpload ends a session and removes its staging file; its client's
// next request on it gets BLOB_UPLOAD_UNKNOWN.
func (s *Service) DeleteUpload(ctx context.Context, id string) error {
	info, err := s.d.Registry.RemoveUpload(ctx, id)
	if err != nil {
		return err
	}
	s.record(ctx, audit.Delete, string(policy.Admin), info.Repo, "", "upload session "+info.ID+" (admin API)")
	return nil
}
