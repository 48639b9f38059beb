"""Registry: an ECR repository and the API image built from a local directory and pushed to it."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra import require, type_token
from infra.keys import KeyArns

TYPE = type_token("registry", "Registry")

PLATFORMS = ("linux/amd64", "linux/arm64")
"""Image platforms the component can build."""
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegistryArgs:
    """Inputs of a Registry."""

    context_dir: str
    """Directory holding the Dockerfile and the build context."""
    image_tag: str
    """Tag of the image, derived from the content of `context_dir` by the caller."""
    platform: str = "linux/amd64"
    """Platform the image is built for; must match the task definition's CPU architecture."""
    immutable_tags: bool = True
    """Tags cannot be moved to another image once pushed."""
    keep_images: int = 20
    """Number of tagged images the lifecycle policy keeps."""
    force_delete: bool = False
    """Allow deleting the repository while it still holds images."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""


class Registry(pulumi.ComponentResource):
    """ECR repository with scan on push and a lifecycle policy, and the content-tagged API image."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(_TAG.fullmatch(args.image_tag) is not None, "image_tag", args.image_tag, "a Docker tag")
        require(args.platform in PLATFORMS, "platform", args.platform, ", ".join(PLATFORMS))
        require(1 <= args.keep_images <= 1000, "keep_images", args.keep_images, "1 to 1000")
        dockerfile = pathlib.Path(args.context_dir) / "Dockerfile"
        require(pathlib.Path(args.context_dir).is_dir(), "context_dir", args.context_dir, "an existing directory")
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The repository: images scanned on push, encrypted, tags immutable where the stack says so.
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability="IMMUTABLE" if args.immutable_tags else "MUTABLE",
            encryption_configurations=[
                {"encryption_type": "KMS", "kms_key": args.keys.registry}
                if args.keys.registry
                else {"encryption_type": "AES256"}
            ],
            force_delete=args.force_delete,
            opts=child,
        )
        # Keeps the repository small: untagged layers go after a day, only the newest tagged images stay.
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "Expire untagged images after one day",
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "sinceImagePushed",
                                "countUnit": "days",
                                "countNumber": 1,
                            },
                            "action": {"type": "expire"},
                        },
                        {
                            "rulePriority": 2,
                            "description": f"Keep the newest {args.keep_images} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": args.keep_images,
                            },
                            "action": {"type": "expire"},
                        },
                    ]
                },
                sort_keys=True,
            ),
            opts=child,
        )

        token = aws.ecr.get_authorization_token_output(
            registry_id=self.repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        image_name = self.repository.repository_url.apply(lambda url: f"{url}:{args.image_tag}")
        # The API image, built from the local directory and pushed under its content tag.
        self.image = docker_build.Image(
            f"{name}-image",
            context={"location": str(args.context_dir)},
            dockerfile={"location": str(dockerfile)},
            platforms=[docker_build.Platform(args.platform)],
            build_args={"VERSION": args.image_tag},
            labels={"org.opencontainers.image.version": args.image_tag},
            tags=[image_name],
            push=True,
            registries=[
                {
                    "address": self.repository.repository_url.apply(lambda url: url.split("/", 1)[0]),
                    "username": token.user_name,
                    "password": pulumi.Output.secret(token.password),
                }
            ],
            opts=child,
        )

        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        # Digest-pinned reference: tasks run exactly the image that was pushed.
        self.image_ref = self.image.ref
        self.image_tag = args.image_tag
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
                "image_ref": self.image_ref,
            }
        )
