/**
 * AssumeRoleWithWebIdentity as on EKS (IRSA) or any CI with OIDC: AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are
 * read from the environment, and the token file is read again at every refresh, so a rotated token is always used.
 */
import { RefreshableSession } from "aws-refresh-session";

const session = new RefreshableSession({ method: "web-identity", durationSeconds: 3600 });
const me = await session.whoami();
console.log(`web identity: ${me.Arn}`);
session.close();
