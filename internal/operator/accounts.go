package operator

import (
	"context"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/operatorapi"
)

// CreateAccount creates an enabled account.
func (s *Service) CreateAccount(ctx context.Context, c *zcapi.Call, in *operatorapi.CreateAccountRequest) (*operatorapi.CreateAccountResponse, error) {
	n, err := name("name", in.Name)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.CreateAccountAs(ctx, n, actor(c))
	if err != nil {
		return nil, err
	}
	return &operatorapi.CreateAccountResponse{AccountID: a.ID, Name: a.Name}, nil
}

// DescribeAccounts lists accounts, oldest first.
func (s *Service) DescribeAccounts(ctx context.Context, c *zcapi.Call, in *operatorapi.DescribeAccountsRequest) (*operatorapi.DescribeAccountsResponse, error) {
	offset, limit, err := page(in.Page)
	if err != nil {
		return nil, err
	}
	if err := quota.CheckIDs("accountIds", in.AccountIDs); err != nil {
		return nil, err
	}
	f := quota.AccountFilter{IDs: in.AccountIDs, Offset: offset, Limit: limit}
	if in.Name != nil {
		if f.NameContains, err = optionalText("name", in.Name, 255); err != nil {
			return nil, err
		}
	}
	accts, total, err := s.Store.ListAccountsPage(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &operatorapi.DescribeAccountsResponse{TotalCount: total, DataSet: make([]operatorapi.AccountInfo, 0, len(accts))}
	for _, a := range accts {
		out.DataSet = append(out.DataSet, operatorapi.AccountInfo{AccountID: a.ID, Name: a.Name, Disabled: a.Disabled, CreatedAt: formatTime(a.CreatedAt)})
	}
	return out, nil
}

// ModifyAccountStatus disables or enables an account.
func (s *Service) ModifyAccountStatus(ctx context.Context, c *zcapi.Call, in *operatorapi.ModifyAccountStatusRequest) (*operatorapi.ModifyAccountStatusResponse, error) {
	id, err := requiredID("accountId", in.AccountID)
	if err != nil {
		return nil, err
	}
	if in.Disabled == nil {
		return nil, quota.Errorf(quota.CodeMissingParameter, "disabled is required.")
	}
	if err := s.Store.SetAccountDisabledAs(ctx, id, *in.Disabled, actor(c)); err != nil {
		return nil, err
	}
	return &operatorapi.ModifyAccountStatusResponse{AccountID: id, Disabled: *in.Disabled}, nil
}

// CreateAccessKey creates an access key of an account and shows its password, once.
func (s *Service) CreateAccessKey(ctx context.Context, c *zcapi.Call, in *operatorapi.CreateAccessKeyRequest) (*operatorapi.CreateAccessKeyResponse, error) {
	id, err := requiredID("accountId", in.AccountID)
	if err != nil {
		return nil, err
	}
	k, err := s.Store.CreateAccessKeyAs(ctx, id, actor(c))
	if err != nil {
		return nil, err
	}
	return &operatorapi.CreateAccessKeyResponse{AccessKeyID: k.ID, AccessKeyPassword: k.Secret, AccountID: k.AccountID}, nil
}

// DescribeAccessKeys lists an account's access keys, oldest first, without passwords.
func (s *Service) DescribeAccessKeys(ctx context.Context, c *zcapi.Call, in *operatorapi.DescribeAccessKeysRequest) (*operatorapi.DescribeAccessKeysResponse, error) {
	id, err := requiredID("accountId", in.AccountID)
	if err != nil {
		return nil, err
	}
	offset, limit, err := page(in.Page)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.GetAccount(ctx, id); err != nil {
		return nil, err
	}
	keys, err := s.Store.ListAccessKeys(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &operatorapi.DescribeAccessKeysResponse{TotalCount: len(keys), DataSet: []operatorapi.AccessKeyInfo{}}
	for _, k := range pageOf(keys, offset, limit) {
		out.DataSet = append(out.DataSet, operatorapi.AccessKeyInfo{AccessKeyID: k.ID, AccountID: k.AccountID, Disabled: k.Disabled, CreatedAt: formatTime(k.CreatedAt)})
	}
	return out, nil
}

// DisableAccessKey disables a tenant's access key: it is refused from its
// next request on, on every replica.
func (s *Service) DisableAccessKey(ctx context.Context, c *zcapi.Call, in *operatorapi.AccessKeyRequest) (*operatorapi.AccessKeyStatusResponse, error) {
	return s.setKeyDisabled(ctx, c, in, true)
}

// EnableAccessKey enables a disabled access key again.
func (s *Service) EnableAccessKey(ctx context.Context, c *zcapi.Call, in *operatorapi.AccessKeyRequest) (*operatorapi.AccessKeyStatusResponse, error) {
	return s.setKeyDisabled(ctx, c, in, false)
}

func (s *Service) setKeyDisabled(ctx context.Context, c *zcapi.Call, in *operatorapi.AccessKeyRequest, disabled bool) (*operatorapi.AccessKeyStatusResponse, error) {
	id, err := requiredID("accessKeyId", in.AccessKeyID)
	if err != nil {
		return nil, err
	}
	if err := s.Store.SetAccessKeyDisabledAs(ctx, id, disabled, actor(c)); err != nil {
		return nil, err
	}
	return &operatorapi.AccessKeyStatusResponse{AccessKeyID: id, Disabled: disabled}, nil
}

// maxTokenTTL bounds a token's lifetime: ten years.
const maxTokenTTL = 10 * 365 * 24 * time.Hour

// CreateToken creates a bearer token of an account and shows it, once.
func (s *Service) CreateToken(ctx context.Context, c *zcapi.Call, in *operatorapi.CreateTokenRequest) (*operatorapi.CreateTokenResponse, error) {
	id, err := requiredID("accountId", in.AccountID)
	if err != nil {
		return nil, err
	}
	if in.TTLSeconds == nil {
		return nil, quota.Errorf(quota.CodeMissingParameter, "ttlSeconds is required.")
	}
	if *in.TTLSeconds < 1 {
		return nil, quota.Errorf(quota.CodeLessMinimum, "ttlSeconds must be at least 1; it is %d.", *in.TTLSeconds)
	}
	if *in.TTLSeconds > int64(maxTokenTTL/time.Second) {
		return nil, quota.Errorf(quota.CodeExceedMaximum, "ttlSeconds must be at most %d; it is %d.", int64(maxTokenTTL/time.Second), *in.TTLSeconds)
	}
	tok, exp, err := s.Store.CreateTokenAs(ctx, id, time.Duration(*in.TTLSeconds)*time.Second, actor(c))
	if err != nil {
		return nil, err
	}
	return &operatorapi.CreateTokenResponse{Token: tok, ExpiresAt: formatTime(exp), AccountID: id}, nil
}

// Instance defaults, as `imagequota admin instance create` has them.
const (
	DefaultDiskGB     = 40
	DefaultOSCategory = "Ubuntu"
	DefaultOSType     = "linux"
	DefaultOSVersion  = "22.04"
)

// CreateInstance registers an instance of an account in a zone.
func (s *Service) CreateInstance(ctx context.Context, c *zcapi.Call, in *operatorapi.CreateInstanceRequest) (*operatorapi.CreateInstanceResponse, error) {
	inst, err := s.validateCreateInstance(in)
	if err != nil {
		return nil, err
	}
	inst, err = s.Store.CreateInstanceAs(ctx, inst, actor(c))
	if err != nil {
		return nil, err
	}
	return &operatorapi.CreateInstanceResponse{InstanceID: inst.ID, AccountID: inst.AccountID, ZoneID: inst.LocationID}, nil
}

func (s *Service) validateCreateInstance(in *operatorapi.CreateInstanceRequest) (quota.Instance, error) {
	inst := quota.Instance{DiskGB: DefaultDiskGB, OSCategory: DefaultOSCategory, OSType: DefaultOSType, OSVersion: DefaultOSVersion}
	var err error
	if inst.AccountID, err = requiredID("accountId", in.AccountID); err != nil {
		return inst, err
	}
	if inst.LocationID, err = requiredID("zoneId", in.ZoneID); err != nil {
		return inst, err
	}
	if err := s.zone("zoneId", inst.LocationID); err != nil {
		return inst, err
	}
	if inst.ID, err = optionalID("instanceId", in.InstanceID); err != nil {
		return inst, err
	}
	if inst.ID != "" && !strings.HasPrefix(inst.ID, "ins-") {
		return inst, quota.Errorf(quota.CodePatternError, "instanceId %q must start with ins-.", inst.ID)
	}
	if in.DiskGB != nil {
		if *in.DiskGB < 1 || *in.DiskGB > 65536 {
			return inst, quota.Errorf(quota.CodeInvalidParameterValue, "diskGb must be 1-65536; it is %d.", *in.DiskGB)
		}
		inst.DiskGB = *in.DiskGB
	}
	if in.OSType != nil {
		if inst.OSType, err = choice("osType", in.OSType, DefaultOSType, "linux", "windows"); err != nil {
			return inst, err
		}
	}
	for _, f := range []struct {
		param string
		in    *string
		out   *string
	}{{"osCategory", in.OSCategory, &inst.OSCategory}, {"osVersion", in.OSVersion, &inst.OSVersion}} {
		if f.in == nil {
			continue
		}
		if *f.in == "" {
			return inst, quota.Errorf(quota.CodeLessLength, "%s must not be empty.", f.param)
		}
		if err := quota.CheckText(f.param, *f.in, 64); err != nil {
			return inst, err
		}
		*f.out = *f.in
	}
	return inst, nil
}

// DeleteInstance removes an instance; its images stay and still count.
func (s *Service) DeleteInstance(ctx context.Context, c *zcapi.Call, in *operatorapi.DeleteInstanceRequest) (*operatorapi.DeleteInstanceResponse, error) {
	id, err := requiredID("instanceId", in.InstanceID)
	if err != nil {
		return nil, err
	}
	if err := s.Store.DeleteInstanceAs(ctx, id, actor(c)); err != nil {
		return nil, err
	}
	return &operatorapi.DeleteInstanceResponse{InstanceID: id}, nil
}

// DescribeInstances lists instances, oldest first.
func (s *Service) DescribeInstances(ctx context.Context, c *zcapi.Call, in *operatorapi.DescribeInstancesRequest) (*operatorapi.DescribeInstancesResponse, error) {
	id, err := optionalID("accountId", in.AccountID)
	if err != nil {
		return nil, err
	}
	offset, limit, err := page(in.Page)
	if err != nil {
		return nil, err
	}
	if id != "" {
		if _, err := s.Store.GetAccount(ctx, id); err != nil {
			return nil, err
		}
	}
	insts, total, err := s.Store.ListInstancesPage(ctx, id, offset, limit)
	if err != nil {
		return nil, err
	}
	out := &operatorapi.DescribeInstancesResponse{TotalCount: total, DataSet: make([]operatorapi.InstanceInfo, 0, len(insts))}
	for _, i := range insts {
		out.DataSet = append(out.DataSet, operatorapi.InstanceInfo{InstanceID: i.ID, AccountID: i.AccountID, ZoneID: i.LocationID, DiskGB: i.DiskGB,
			OSCategory: i.OSCategory, OSType: i.OSType, OSVersion: i.OSVersion, CreatedAt: formatTime(i.CreatedAt)})
	}
	return out, nil
}
