"""The SageMaker Model Registry calls the stack makes, where moto's support is partial.

moto (pinned in requirements/constraints.txt) has CreateModelPackageGroup, DescribeModelPackageGroup,
CreateModelPackage (versioned packages numbered 1, 2, ... in their group), DescribeModelPackage,
ListModelPackages and UpdateModelPackage. What the stack meets beyond that:

* UpdateModelPackage changes only what the request names
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateModelPackage.html: every field but
  ModelPackageArn is optional). moto sets ModelApprovalStatus, ApprovalDescription and
  CustomerMetadataProperties to whatever the request carries, so an update that only adds a metadata property
  erases the approval status, and one that only approves erases the metadata. Here the given
  CustomerMetadataProperties are merged into the package's (the reference has a separate
  CustomerMetadataPropertiesToRemove for removing keys, so an update adds and overwrites keys; it does not say
  so in as many words), CustomerMetadataPropertiesToRemove removes keys, and LastModifiedTime moves.
* DeleteModelPackage (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteModelPackage.html:
  by name or ARN) and DeleteModelPackageGroup
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteModelPackageGroup.html), which moto
  lacks: Terraform destroys the aws_sagemaker_model_package_group, and the destroy-time cleanup
  (scripts/cleanup_endpoint) deletes the pipeline's versions first. The API reference does not say whether a
  group that still holds versions can be deleted (it lists ConflictException without saying when); here the
  group is deleted and its versions are left, as moto keeps them. Deleting what does not exist is a
  ValidationException "... does not exist.", the wording the AWS provider looks for (it treats it as gone).
"""

from __future__ import annotations

from typing import Any


def _backend_package(backend: Any, name_or_arn: str) -> Any:
    from moto.sagemaker.exceptions import ValidationError

    key = backend.model_package_name_mapping.get(name_or_arn, name_or_arn)
    package = backend.model_packages.get(key)
    if package is None:
        raise ValidationError(message=f"Model package {name_or_arn} does not exist.")
    return package


def update_model_package(
    backend: Any,
    model_package_arn: str,
    model_approval_status: str | None = None,
    approval_description: str | None = None,
    customer_metadata_properties: dict[str, str] | None = None,
    customer_metadata_properties_to_remove: list[str] | None = None,
    additional_inference_specifications_to_add: list[Any] | None = None,
) -> str:
    """UpdateModelPackage as the API reference describes it: only the named fields change."""
    package = _backend_package(backend, model_package_arn)
    if model_approval_status is not None:
        package.set_model_approval_status(model_approval_status)  # moto validates the enum
    if approval_description is not None:
        package.approval_description = approval_description
    if customer_metadata_properties or customer_metadata_properties_to_remove:
        merged = dict(package.customer_metadata_properties or {})
        merged.update(customer_metadata_properties or {})
        for key in customer_metadata_properties_to_remove or []:
            merged.pop(key, None)
        package.customer_metadata_properties = merged or None
    if additional_inference_specifications_to_add:
        package.add_additional_inference_specifications(additional_inference_specifications_to_add)
    package.modifications_done()  # LastModifiedTime
    return package.arn


def delete_model_package(backend: Any, model_package_name: str) -> None:
    package = _backend_package(backend, model_package_name)
    backend.model_packages.pop(package.arn, None)
    for key in [k for k, v in backend.model_package_name_mapping.items() if v == package.arn]:
        # The name of a versioned package maps to its group's latest version: remap it to the one left.
        del backend.model_package_name_mapping[key]
    if package.model_package_group_name:
        left = [p for p in backend.model_packages.values() if p.model_package_name == package.model_package_name]
        if left:
            backend.model_package_name_mapping[package.model_package_name] = left[-1].arn


def delete_model_package_group(backend: Any, model_package_group_name: str) -> None:
    from moto.sagemaker.exceptions import ValidationError

    name = model_package_group_name.rsplit("/", 1)[-1]  # a name or an ARN
    if backend.model_package_groups.pop(name, None) is None:
        arn = f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:model-package-group/{name}"
        raise ValidationError(message=f"ModelPackageGroup {arn} does not exist.")


def install(ctx: Any = None) -> None:
    """Patch moto's SageMaker responses with the calls above (idempotent)."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(SageMakerResponse.update_model_package, "_local_aws", False):
        return

    def update(self: Any) -> Any:
        arn = update_model_package(
            self.sagemaker_backend,
            self._get_param("ModelPackageArn"),
            model_approval_status=self._get_param("ModelApprovalStatus"),
            approval_description=self._get_param("ApprovalDescription"),
            customer_metadata_properties=self._get_param("CustomerMetadataProperties"),
            customer_metadata_properties_to_remove=self._get_param("CustomerMetadataPropertiesToRemove"),
            additional_inference_specifications_to_add=self._get_param("AdditionalInferenceSpecificationsToAdd"),
        )
        return ActionResult({"ModelPackageArn": arn})

    def delete_package(self: Any) -> Any:
        delete_model_package(self.sagemaker_backend, self._get_param("ModelPackageName"))
        return EmptyResult()

    def delete_group(self: Any) -> Any:
        delete_model_package_group(self.sagemaker_backend, self._get_param("ModelPackageGroupName"))
        return EmptyResult()

    for name, method in (
        ("update_model_package", update),
        ("delete_model_package", delete_package),
        ("delete_model_package_group", delete_group),
    ):
        method._local_aws = True  # type: ignore[attr-defined]
        setattr(SageMakerResponse, name, method)
