package s3store

import (
	"context"
	"maps"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// CountRequests makes s count the S3 operations it sends, by name: the
// tests check how many requests a push costs. It returns the counts so
// far.
func CountRequests(s *Store) func() map[string]int {
	var mu sync.Mutex
	n := map[string]int{}
	count := middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		mu.Lock()
		n[awsmiddleware.GetOperationName(ctx)]++
		mu.Unlock()
		return next.HandleInitialize(ctx, in)
	})
	s.c = s3.New(s.c.Options(), func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error { return st.Initialize.Add(count, middleware.After) })
	})
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(n)
	}
}
