// Package errcode is the one registry of the errors that leave the
// engine. Each Kind is a domain condition, not a wire format, registered
// once (kinds.go) with its answer on every surface: the OCI code and
// status of the distribution API, the code and status of the admin REST
// API, and the admin gRPC API's status code. The surfaces (http/distapi,
// http/adminapi, http/grpcapi, http/ui) look their answer up here and
// keep no table of their own.
//
// Each package turns its own sentinel errors into kinds where they arise:
// a package that may import errcode declares its sentinels as *Error
// values (identity.ErrBadPassword, audit.ErrBadCursor); a package below
// the engine (kv, actors, jobs), which may not, gives its sentinels an
// ErrorKind method returning the kind's registered name. KindOf and
// Public read both. A test walks every package of the module and checks
// that each exported Err* sentinel answers with a kind other than
// Internal, or is listed with the reason it is internal by nature.
//
// errcode imports no other package of the module: everything above it
// may use it.
package errcode
