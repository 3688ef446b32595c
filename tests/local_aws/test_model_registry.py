"""The Model Registry calls of the embedded AWS (local_aws.model_registry) as the API reference describes them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.embedded

SPEC = {
    "Containers": [{"Image": "local/pytorch-inference", "ModelDataUrl": "s3://bucket/models/m/output/model.tar.gz"}],
    "SupportedContentTypes": ["application/x-image"],
    "SupportedResponseMIMETypes": ["application/json"],
}


def test_versions_are_numbered_and_an_update_changes_only_what_it_names(local_aws):
    sagemaker = local_aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="mr-models")
    first = sagemaker.create_model_package(
        ModelPackageGroupName="mr-models",
        InferenceSpecification=SPEC,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"TrainingJobName": "mr-1", "Accuracy": "0.91"},
    )["ModelPackageArn"]
    second = sagemaker.create_model_package(
        ModelPackageGroupName="mr-models", InferenceSpecification=SPEC, ModelApprovalStatus="Approved"
    )["ModelPackageArn"]
    assert first.endswith(":model-package/mr-models/1")
    assert second.endswith(":model-package/mr-models/2")

    sagemaker.update_model_package(ModelPackageArn=first, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    package = sagemaker.describe_model_package(ModelPackageName=first)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["CustomerMetadataProperties"] == {"TrainingJobName": "mr-1", "Accuracy": "0.91"}

    sagemaker.update_model_package(
        ModelPackageArn=first,
        CustomerMetadataProperties={"RolledBackAt": "2024-01-01T00:00:00Z"},
        CustomerMetadataPropertiesToRemove=["Accuracy"],
    )
    package = sagemaker.describe_model_package(ModelPackageName=first)
    assert package["ModelApprovalStatus"] == "Approved"  # moto alone would have erased it
    assert package["ApprovalDescription"] == "ok"
    assert package["CustomerMetadataProperties"] == {"TrainingJobName": "mr-1", "RolledBackAt": "2024-01-01T00:00:00Z"}

    approved = sagemaker.list_model_packages(
        ModelPackageGroupName="mr-models", ModelApprovalStatus="Approved", SortBy="CreationTime", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in approved] == [2, 1]


def test_packages_and_groups_can_be_deleted_and_are_then_gone(local_aws):
    sagemaker = local_aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="mr-deleted")
    arn = sagemaker.create_model_package(ModelPackageGroupName="mr-deleted", InferenceSpecification=SPEC)[
        "ModelPackageArn"
    ]

    sagemaker.delete_model_package(ModelPackageName=arn)
    assert sagemaker.list_model_packages(ModelPackageGroupName="mr-deleted")["ModelPackageSummaryList"] == []
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.delete_model_package(ModelPackageName=arn)

    sagemaker.delete_model_package_group(ModelPackageGroupName="mr-deleted")
    with pytest.raises(ClientError, match="does not exist") as gone:
        sagemaker.describe_model_package_group(ModelPackageGroupName="mr-deleted")
    assert gone.value.response["Error"]["Code"] == "ValidationException"  # what the AWS provider treats as gone
