package grpcapi

import (
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// need is what a method requires of its caller: one policy action, on
// the request's repository when perRepo (the request has a repository
// field), else registry-wide.
type need struct {
	act     policy.Action
	perRepo bool
}

// actions is the one table of what each RPC requires, the same actions
// as the REST routes (http/adminapi/api.go). The interceptors refuse a
// method that is not in it, and TestEveryMethodHasAction keeps it
// complete.
var actions = map[string]need{
	mcrv1.RegistryService_GetStatus_FullMethodName:        {act: policy.Admin},
	mcrv1.RegistryService_ListRepositories_FullMethodName: {act: policy.Catalog}, // then filtered by pull
	mcrv1.RegistryService_GetRepository_FullMethodName:    {act: policy.Pull, perRepo: true},
	mcrv1.RegistryService_DeleteRepository_FullMethodName: {act: policy.Admin, perRepo: true},
	mcrv1.RegistryService_ListTags_FullMethodName:         {act: policy.Pull, perRepo: true},
	mcrv1.RegistryService_GetTag_FullMethodName:           {act: policy.Pull, perRepo: true},
	mcrv1.RegistryService_DeleteTag_FullMethodName:        {act: policy.Delete, perRepo: true},
	mcrv1.RegistryService_ListManifests_FullMethodName:    {act: policy.Pull, perRepo: true},
	mcrv1.RegistryService_GetManifest_FullMethodName:      {act: policy.Pull, perRepo: true},
	mcrv1.RegistryService_DeleteManifest_FullMethodName:   {act: policy.Delete, perRepo: true},
	mcrv1.RegistryService_ListUploads_FullMethodName:      {act: policy.Admin},
	mcrv1.RegistryService_DeleteUpload_FullMethodName:     {act: policy.Admin},

	mcrv1.JobService_ListJobs_FullMethodName:      {act: policy.Admin},
	mcrv1.JobService_GetJob_FullMethodName:        {act: policy.Admin},
	mcrv1.JobService_GetGCStatus_FullMethodName:   {act: policy.Admin},
	mcrv1.JobService_RunGC_FullMethodName:         {act: policy.Admin},
	mcrv1.JobService_ListGCHistory_FullMethodName: {act: policy.Admin},

	mcrv1.PolicyService_ListRules_FullMethodName:   {act: policy.PolicyManage},
	mcrv1.PolicyService_CreateRule_FullMethodName:  {act: policy.PolicyManage},
	mcrv1.PolicyService_GetRule_FullMethodName:     {act: policy.PolicyManage},
	mcrv1.PolicyService_ReplaceRule_FullMethodName: {act: policy.PolicyManage},
	mcrv1.PolicyService_DeleteRule_FullMethodName:  {act: policy.PolicyManage},
	mcrv1.PolicyService_EnableRule_FullMethodName:  {act: policy.PolicyManage},
	mcrv1.PolicyService_DisableRule_FullMethodName: {act: policy.PolicyManage},
	mcrv1.PolicyService_TestPolicy_FullMethodName:  {act: policy.PolicyManage},

	mcrv1.AccountService_ListAccounts_FullMethodName:    {act: policy.Admin},
	mcrv1.AccountService_CreateAccount_FullMethodName:   {act: policy.Admin},
	mcrv1.AccountService_GetAccount_FullMethodName:      {act: policy.Admin},
	mcrv1.AccountService_DeleteAccount_FullMethodName:   {act: policy.Admin},
	mcrv1.AccountService_EnableAccount_FullMethodName:   {act: policy.Admin},
	mcrv1.AccountService_DisableAccount_FullMethodName:  {act: policy.Admin},
	mcrv1.AccountService_SetPassword_FullMethodName:     {act: policy.Admin},
	mcrv1.AccountService_ListAccessKeys_FullMethodName:  {act: policy.Admin},
	mcrv1.AccountService_CreateAccessKey_FullMethodName: {act: policy.Admin},
	mcrv1.AccountService_RevokeAccessKey_FullMethodName: {act: policy.Admin},

	mcrv1.AuditService_QueryAudit_FullMethodName:  {act: policy.Admin},
	mcrv1.AuditService_FollowAudit_FullMethodName: {act: policy.Admin},
	mcrv1.AuditService_VerifyAudit_FullMethodName: {act: policy.Admin},

	mcrv1.SnapshotService_CreateSnapshot_FullMethodName: {act: policy.Admin},
}
