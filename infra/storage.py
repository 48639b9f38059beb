"""Storage: an encrypted, versioned, private application bucket and a log bucket for access logs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import key_policy, policy_document, require, service_key_use, type_token
from infra.network import FLOW_LOG_PREFIX

TYPE = type_token("storage", "Storage")

ALB_LOG_PREFIX = "alb"
"""Key prefix of the load balancer's access logs in the log bucket."""
S3_LOG_PREFIX = "s3/app/"
"""Key prefix of the application bucket's server access logs in the log bucket."""
USERS_PREFIX = "users/"
"""Key prefix of the users' files in the application bucket: the only keys the service may read and write."""
CORS_MAX_AGE_SECONDS = 600

# Accounts that write load balancer access logs in regions opened before August 2022; newer regions use
# the log-delivery service principal instead.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class StorageArgs:
    """Inputs of Storage."""

    region: str
    """Region of the buckets; decides who delivers load balancer logs."""
    account_id: pulumi.Input[str]
    """AWS account that owns the buckets."""
    force_destroy: bool = False
    """Allow deleting buckets that still hold objects."""
    protect: bool = True
    """Protect both buckets from deletion by Pulumi."""
    log_expiration_days: int = 365
    """Days the log bucket keeps objects."""
    app_noncurrent_days: int = 90
    """Days the application bucket keeps noncurrent object versions."""
    cors_origins: Sequence[str] = ()
    """Origins whose pages may upload to and download from the application bucket; empty: no CORS rule."""


class Storage(pulumi.ComponentResource):
    """An application bucket and a log bucket, both private, encrypted, versioned and TLS-only."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(not (args.force_destroy and args.protect), "force_destroy", True, "False when protect is True")
        require(1 <= args.log_expiration_days <= 3650, "log_expiration_days", args.log_expiration_days, "1 to 3650")
        require(1 <= args.app_noncurrent_days <= 3650, "app_noncurrent_days", args.app_noncurrent_days, "1 to 3650")
        for origin in args.cors_origins:
            require(
                origin == "*" or origin.startswith(("https://", "http://")),
                "cors_origins",
                origin,
                "* or scheme://host[:port] origins",
            )
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The application bucket's own key, so the service's role can be granted exactly this key, through S3 only.
        self.app_key = aws.kms.Key(
            f"{name}-app-key",
            description=f"{name}: encrypts the application bucket's objects",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: key_policy(account, [service_key_use(account, "s3", args.region)])
            ),
            opts=child,
        )
        # Access logs of the load balancer and of the application bucket.
        self.log_bucket = self._bucket(name, "logs", args, kms_key=None)
        # The application's objects.
        self.app_bucket = self._bucket(name, "app", args, kms_key=self.app_key.arn)

        # Log bucket: keep logs for the configured period, noncurrent versions for a week.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-lifecycle",
            bucket=self.log_bucket.id,
            rules=[
                {
                    "id": "expire-logs",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.log_expiration_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 7},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=child,
        )
        # Application bucket: old versions are kept for recovery, then expire.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-app-lifecycle",
            bucket=self.app_bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": args.app_noncurrent_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=child,
        )
        if args.cors_origins:
            # Browsers on the stack's origins upload with the presigned POST and read with the presigned GET.
            aws.s3.BucketCorsConfiguration(
                f"{name}-app-cors",
                bucket=self.app_bucket.id,
                cors_rules=[
                    {
                        "allowed_origins": list(args.cors_origins),
                        "allowed_methods": ["GET", "POST"],
                        "allowed_headers": ["Content-Type"],
                        "expose_headers": ["ETag"],
                        "max_age_seconds": CORS_MAX_AGE_SECONDS,
                    }
                ],
                opts=child,
            )
        # Server access logs of the application bucket go to the log bucket.
        aws.s3.BucketLogging(
            f"{name}-app-logging",
            bucket=self.app_bucket.id,
            target_bucket=self.log_bucket.id,
            target_prefix=S3_LOG_PREFIX,
            opts=child,
        )

        elb_account = ELB_LOG_ACCOUNTS.get(args.region)
        elb_principal = (
            {"AWS": f"arn:aws:iam::{elb_account}:root"}
            if elb_account
            else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        )
        # Log bucket policy: TLS only; the load balancer and S3 logging may write under their prefixes.
        self.log_bucket_policy = aws.s3.BucketPolicy(
            f"{name}-logs-policy",
            bucket=self.log_bucket.id,
            policy=pulumi.Output.all(logs=self.log_bucket.arn, app=self.app_bucket.arn, account=args.account_id).apply(
                lambda v: policy_document(
                    [
                        _deny_insecure(v["logs"]),
                        {
                            "Sid": "LoadBalancerAccessLogs",
                            "Effect": "Allow",
                            "Principal": elb_principal,
                            "Action": "s3:PutObject",
                            "Resource": f"{v['logs']}/{ALB_LOG_PREFIX}/AWSLogs/{v['account']}/*",
                        },
                        {
                            "Sid": "VpcFlowLogsWrite",
                            "Effect": "Allow",
                            "Principal": {"Service": "delivery.logs.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": f"{v['logs']}/{FLOW_LOG_PREFIX}/AWSLogs/{v['account']}/*",
                            "Condition": {
                                "StringEquals": {
                                    "aws:SourceAccount": v["account"],
                                    "s3:x-amz-acl": "bucket-owner-full-control",
                                },
                                "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{args.region}:{v['account']}:*"},
                            },
                        },
                        {
                            "Sid": "VpcFlowLogsAclCheck",
                            "Effect": "Allow",
                            "Principal": {"Service": "delivery.logs.amazonaws.com"},
                            "Action": "s3:GetBucketAcl",
                            "Resource": v["logs"],
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": v["account"]},
                                "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{args.region}:{v['account']}:*"},
                            },
                        },
                        {
                            "Sid": "S3ServerAccessLogs",
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": f"{v['logs']}/{S3_LOG_PREFIX}*",
                            "Condition": {
                                "ArnLike": {"aws:SourceArn": v["app"]},
                                "StringEquals": {"aws:SourceAccount": v["account"]},
                            },
                        },
                    ]
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._blocks["logs"]]),
        )
        # Application bucket policy: TLS only; access is granted to roles by their own policies.
        aws.s3.BucketPolicy(
            f"{name}-app-policy",
            bucket=self.app_bucket.id,
            policy=self.app_bucket.arn.apply(lambda arn: policy_document([_deny_insecure(arn)])),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._blocks["app"]]),
        )

        self.app_bucket_name = self.app_bucket.bucket
        self.app_bucket_arn = self.app_bucket.arn
        self.app_key_arn = self.app_key.arn
        self.log_bucket_name = self.log_bucket.bucket
        # The log bucket's name once its policy is in place: load balancers check write access when created.
        self.log_bucket_ready = self.log_bucket_policy.bucket
        # The log bucket's ARN once its policy is in place, for log deliveries that check access up front.
        self.log_bucket_arn_ready = pulumi.Output.all(
            arn=self.log_bucket.arn, policy_in_place=self.log_bucket_policy.bucket
        ).apply(lambda v: v["arn"])
        self.register_outputs(
            {
                "app_bucket_name": self.app_bucket_name,
                "app_bucket_arn": self.app_bucket_arn,
                "app_key_arn": self.app_key_arn,
                "log_bucket_name": self.log_bucket_name,
                "log_bucket_arn": self.log_bucket.arn,
            }
        )

    def _bucket(self, name: str, suffix: str, args: StorageArgs, *, kms_key: pulumi.Input[str] | None) -> aws.s3.Bucket:
        """A bucket with ownership enforced, public access blocked, encryption and versioning on."""
        child = pulumi.ResourceOptions(parent=self)
        # The bucket itself; stateful, so protected when the stack says so.
        bucket = aws.s3.Bucket(
            f"{name}-{suffix}",
            force_destroy=args.force_destroy,
            tags={"Name": f"{name}-{suffix}"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        # ACLs are disabled: the bucket owner owns every object.
        aws.s3.BucketOwnershipControls(
            f"{name}-{suffix}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        # No public ACLs or policies, ever.
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-{suffix}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self._blocks = {**getattr(self, "_blocks", {}), suffix: block}
        by_default: aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgsDict = (
            {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key} if kms_key else {"sse_algorithm": "AES256"}
        )
        # Encryption at rest: KMS for application data, S3-managed keys where log delivery requires them.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-{suffix}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": by_default, "bucket_key_enabled": kms_key is not None}],
            opts=child,
        )
        # Versioning keeps overwritten and deleted objects recoverable.
        aws.s3.BucketVersioning(
            f"{name}-{suffix}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        return bucket


def _deny_insecure(bucket_arn: str) -> dict:
    """A statement denying any request that does not use TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
