/** `sluice auth new-token`: a random bearer token and the hash that goes into the auth file. */
import type { Command } from 'commander';
import { newToken } from '../security/tokens.js';
import type { CliIO } from './program.js';

export function addAuthCommand(program: Command, io: CliIO): void {
  const auth = program.command('auth').description('authentication helpers (docs/security.md)');
  auth
    .command('new-token')
    .description('print a new random token (32 bytes, base64url) and its sha256 for the auth file\'s tokenSha256')
    .option('--json', 'print {"token", "tokenSha256"} as JSON', false)
    .addHelpText(
      'after',
      `
Give the token to the application (--token, SLUICE_TOKEN, the client's token option); put only the hash into
the auth file's tokenSha256, then send SIGHUP to the broker (docs/security.md).

Examples:
  $ sluice auth new-token
  $ sluice auth new-token --json | jq -r .tokenSha256`,
    )
    .action((options: { json: boolean }) => {
      const { token, tokenSha256 } = newToken();
      if (options.json) io.stdout(JSON.stringify({ token, tokenSha256 }));
      else {
        io.stdout(`token:       ${token}`);
        io.stdout(`tokenSha256: ${tokenSha256}`);
      }
    });
}
