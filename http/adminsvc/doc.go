// Package adminsvc is the operator's service layer: the one
// implementation of every operation of the admin surfaces, the REST API
// under /api/v1 (http/adminapi) and the gRPC API mcr.v1 (http/grpcapi).
// Both parse their own input, authorize the action they declare, and then
// call the same method here, so the two cannot behave differently.
//
// The service is transport-free: methods take a context (carrying the
// caller as an audit.Actor, for the events of the changes they make) and
// plain values, and return the apiv1 documents or an engine error
// (errcode), which each surface maps once to its own status codes.
// Authorization is not done here: it is the surfaces' job, checked before
// a method runs; the only policy question asked inside is the per-entry
// filter of a listing, which the caller passes in.
package adminsvc
