"""Certificate: an ACM certificate for the service's host name, validated through Route53 DNS records."""

from __future__ import annotations

import dataclasses
import re

import pulumi
import pulumi_aws as aws

from infra import require, type_token

TYPE = type_token("certificate", "Certificate")

KEY_ALGORITHMS = ("RSA_2048", "EC_prime256v1", "EC_secp384r1")
"""Key algorithms accepted: RSA 2048 or elliptic curves."""
_HOST = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CertificateArgs:
    """Inputs of a Certificate."""

    domain_name: str
    """Host name the certificate covers."""
    zone_id: pulumi.Input[str]
    """Route53 public hosted zone that receives the validation record."""
    key_algorithm: str = "EC_prime256v1"
    """Key algorithm of the certificate."""


class Certificate(pulumi.ComponentResource):
    """An issued certificate: `certificate_arn` resolves only once DNS validation has succeeded."""

    def __init__(self, name: str, args: CertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(_HOST.fullmatch(args.domain_name) is not None, "domain_name", args.domain_name, "a lowercase host name")
        require(args.key_algorithm in KEY_ALGORITHMS, "key_algorithm", args.key_algorithm, ", ".join(KEY_ALGORITHMS))
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The certificate, validated by DNS, logged to certificate transparency.
        cert = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain_name,
            validation_method="DNS",
            key_algorithm=args.key_algorithm,
            options={"certificate_transparency_logging_preference": "ENABLED"},
            opts=child,
        )
        option = cert.domain_validation_options.apply(lambda options: options[0])
        # The CNAME record ACM looks for to prove control of the domain.
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=60,
            allow_overwrite=True,
            opts=child,
        )
        # Waits until ACM has issued the certificate, so listeners never reference a pending one.
        validation = aws.acm.CertificateValidation(
            f"{name}-validation-wait",
            certificate_arn=cert.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )

        self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificate_arn": self.certificate_arn})
