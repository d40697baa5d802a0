#!/usr/bin/env bash
# Deploys an image tag: the migrations first, as a one-off ECS task, then the
# services (terraform apply). A failed migration stops here, before any task
# runs the new code.
#
#   deploy/aws/deploy.sh production 0.2.0      # after: docker push <ecr_repository_url>:0.2.0
#
# Needs: terraform (initialised for this environment's state), aws (v2), jq.
set -euo pipefail
env="${1:?usage: deploy.sh ENVIRONMENT TAG}"
tag="${2:?usage: deploy.sh ENVIRONMENT TAG}"
cd "$(dirname "$0")"
out() { terraform output -raw "$1"; }

cluster="$(out cluster_name)"
family="$(out migrate_task_definition)"
subnets="$(terraform output -json private_subnet_ids | jq -r 'join(",")')"
sg="$(out worker_security_group_id)"

# The migrate task definition with the new image: a revision registered
# from the current one (Terraform registers the same on apply).
current="$(aws ecs describe-task-definition --task-definition "$family" --query taskDefinition)"
image="$(jq -r '.containerDefinitions[0].image' <<<"$current")"
new_image="${image%:*}:$tag"
revision="$(jq --arg img "$new_image" '
  {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, requiresCompatibilities,
   cpu, memory, runtimePlatform} | .containerDefinitions[0].image = $img' <<<"$current" \
  | aws ecs register-task-definition --cli-input-json file:///dev/stdin \
      --query taskDefinition.taskDefinitionArn --output text)"
echo "deploy: migrating with $new_image ($revision)"

task="$(aws ecs run-task --cluster "$cluster" --task-definition "$revision" --launch-type FARGATE \
  --network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$sg],assignPublicIp=DISABLED}" \
  --started-by "deploy-$tag" --query 'tasks[0].taskArn' --output text)"
aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
code="$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" --query 'tasks[0].containers[0].exitCode' --output text)"
[ "$code" = "0" ] || { echo "deploy: migration failed (exit $code): see its log group, stream migrate/croupier/${task##*/}" >&2; exit 1; }
echo "deploy: migrated; rolling the services to $tag"

terraform apply -var-file="$env.tfvars" -var image_tag="$tag"
