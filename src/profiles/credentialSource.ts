import { fromHttp, fromInstanceMetadata } from "@aws-sdk/credential-providers";
import type { LoadedAwsConfig } from "../config/awsConfig.js";
import { fromEnvironment } from "../sources/environment.js";
import { fromProvider } from "../sources/provider.js";
import { keyError } from "./profileKeys.js";
import type { ProfileEntry, ProfileInit, ProfileNode } from "./types.js";

/** The `credential_source` values the AWS CLI knows. */
export const CREDENTIAL_SOURCES = ["Environment", "Ec2InstanceMetadata", "EcsContainer"] as const;

/** The base credentials a role profile's `credential_source` names. */
export function credentialSourceNode(entry: ProfileEntry, config: LoadedAwsConfig, init: ProfileInit): ProfileNode {
  const value = entry.section.credential_source as string;
  const base = { kind: "credential-source" as const, profile: undefined };
  switch (value) {
    case "Environment":
      return {
        ...base,
        description: "credential_source Environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
        temporary: false,
        source: fromEnvironment({ env: init.env ?? config.env, name: `environment:${entry.name}` }),
      };
    case "Ec2InstanceMetadata":
      return {
        ...base,
        description: "credential_source Ec2InstanceMetadata (the instance's role, IMDS)",
        temporary: true,
        source: fromProvider(fromInstanceMetadata(), { name: `ec2-instance-metadata:${entry.name}` }),
      };
    case "EcsContainer":
      return {
        ...base,
        description:
          "credential_source EcsContainer (the ECS task role or EKS Pod Identity, through the container endpoint)",
        temporary: true,
        // The SDK's HTTP provider, as its default chain uses for containers: a relative (ECS) or full URI, with the
        // authorization token or token file EKS Pod Identity gives; fromContainerMetadata reads no token file.
        source: fromProvider(fromHttp(), { name: `ecs-container:${entry.name}` }),
      };
    default:
      throw keyError(
        entry,
        config,
        "credential_source",
        "is not a credential source the AWS CLI knows",
        `Use one of ${CREDENTIAL_SOURCES.join(", ")}.`,
      );
  }
}
