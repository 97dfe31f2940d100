"""Every device behaviour the reference does not know, chosen once, in one table.

``docs/cms-mmp-reference.md`` (the device reference) lists what is uncertain ("Uncertain or
conflicting" items, quoted as U1..U17 below). Where the simulator has to print
or decide something the reference does not show, the choice lives here and
nowhere else, with the reason. The reconciler's parsers must stay tolerant of
the plausible alternatives, so these texts are never a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Choice:
    """A text or rule the simulator uses where the reference is silent."""

    text: str
    why: str


CHOICES: Final[dict[str, Choice]] = {
    # --- asynchronous operations (U3, U4) ---------------------------------------------
    "status.initializing": Choice(
        "Enabling (Started {seconds} seconds ago)",
        "U3: only 'Disabling (Started N seconds ago)' is confirmed; SPEC lists Enabling.",
    ),
    "status.joining": Choice(
        "Enabling (Started {seconds} seconds ago)",
        "U3: join's transitional text is unknown; same word as initialize.",
    ),
    "status.upgrading": Choice(
        "Upgrading (Started {seconds} seconds ago)",
        "U3: upgrade_schema's transitional text is unknown.",
    ),
    "initialize.started": Choice(
        "Please wait...\nInitialize started...",
        "U4: post-Y output of initialize unknown; mirrors remove's 'Remove started...'.",
    ),
    "join.started": Choice(
        "Please wait...\nJoin started...",
        "U4: post-Y output of join unknown; mirrors remove's 'Remove started...'.",
    ),
    "confirmation.aborted": Choice(
        "",
        "U4: output after an answer other than capital Y is not shown anywhere; S1's first "
        "remove transcript simply ends, so nothing is printed and nothing changes.",
    ),
    "replica.out_of_sync": Choice(
        "",
        "U3: no out-of-sync wording is published; a replica that is not in sync is shown "
        "without the '( In Sync )' suffix, as S7's 'Connected Replica'.",
    ),
    # --- rules -------------------------------------------------------------------------
    "rule.election": Choice(
        "network",
        "S7: a node promotes itself only if it sees more than half of the members and no "
        "primary; a primary that sees no majority shows itself as a replica. By default "
        "visibility is network reachability (partitions, nodes down) and expired or "
        "mismatched certificates break replication (no '( In Sync )'), as the issue reads "
        "S1's 'nodes stop talking'. A scenario may set expiry_breaks_visibility: then broken "
        "TLS also shows peers Disconnected and the master, seeing no majority, demotes "
        "itself: the other reading, which the reconciler must survive too.",
    ),
    "rule.certs_snapshot": Choice(
        "copy",
        "U14/S1 note: 'database cluster certs' copies the files' contents into the database "
        "service; changing or deleting a file over SFTP afterwards has no effect until certs "
        "is run again.",
    ),
    "rule.certs_three_args": Choice(
        "client-only",
        "U2: the 3-argument form configures client key/cert and CA and clears the server "
        "key/cert (a connect-only node).",
    ),
    "rule.initialize_needs_certs": Choice(
        "configured",
        "initialize ends (Failed) when no server/client certificates are configured; expiry "
        "is not checked for a one-node cluster (no source says it is).",
    ),
    "rule.remove_when_disabled": Choice(
        "success",
        "remove on a node that is not clustered runs and reports (Success); not documented.",
    ),
    "rule.expired_ca_marker": Choice(
        " (expired)",
        "U16: the marker is confirmed on server and client certificates; the CA line gets it "
        "too when the CA is expired. There is no 'not yet valid' marker.",
    ),
    # --- texts of errors not found in any source -------------------------------------------
    "error.unknown_command": Choice(
        "ERROR: Unknown command: {command}",
        "U15: the MMP's reply to an unknown command is not published.",
    ),
    "error.file_not_found": Choice(
        "ERROR: File not found: {file}",
        "§1.2: error messages for missing files are not found in any source.",
    ),
    "error.not_a_certificate": Choice(
        "ERROR: {file} does not contain a certificate or key",
        "§1.2: validation errors of certs arguments are not published.",
    ),
    "error.bad_interface": Choice(
        "ERROR: Unknown interface: {interface}",
        "§1.9: localnode's output is not published.",
    ),
    "error.no_interface": Choice(
        "ERROR: No database cluster interface configured; use "
        "'database cluster localnode <interface>' first",
        "§1.9 and the reference's 'sources added' notes: every published procedure sets "
        "'database cluster localnode' before initialize/join (S2 step 1, on the primary and on "
        "every joiner) and remove keeps it (S1 Step 8), but what initialize/join do on a node "
        "where it was never set is not published. The simulator refuses both, before the "
        "(Y/n), with this invented text, and changes nothing: the reconciler must set localnode "
        "first rather than rely on a default.",
    ),
    "rule.never_clustered_interface": Choice(
        "none",
        "U5: the status of a never-configured node is not published. A simulated node without "
        "an interface (scenario 'interface: null', or a test that clears it) prints an empty "
        "'Interface' value, as it prints empty certificate fields; the parser reads it as "
        "none. The lab's scenario sets 'interface: a' on every node, as after S2 step 1.",
    ),
    "error.bad_backup_name": Choice(
        "ERROR: Invalid backup name: {name}",
        "S11 restricts pki basenames to letters, digits, '-' and '_'; backup names likewise.",
    ),
    "error.backup_not_found": Choice(
        "ERROR: Backup not found: {name}",
        "U12: backup rollback's behaviour for a missing backup is not published.",
    ),
    "error.failure_line": Choice(
        "FAILURE: {reason}",
        "§2.3a: TAC 217320 publishes 'FAILURE:' lines as the refusal of a component enable "
        "command ('streamer enable'), and TAC 213821 the SUCCESS/FAILURE convention for the "
        "other components' enable; whether database cluster, pki or backup commands ever "
        "answer FAILURE: is unknown. The simulator has no component enable commands and does "
        "not print it for database, pki or backup commands (they answer ERROR:); the "
        "reconciler treats a FAILURE: line exactly like an ERROR: line.",
    ),
    "usage.database_cluster": Choice(
        "Usage:\n"
        "  database cluster status\n"
        "  database cluster localnode <interface>\n"
        "  database cluster certs <server_key> <server_crt> <client_key> <client_crt> <ca_crt>\n"
        "  database cluster certs <client_key> <client_crt> <ca_crt>\n"
        "  database cluster initialize\n"
        "  database cluster join <ip>\n"
        "  database cluster connect <ip>\n"
        "  database cluster remove\n"
        "  database cluster clear error\n"
        "  database cluster upgrade_schema",
        "Modelled on the published 'backup' usage block (S1): 'Usage:' then 2-space lines.",
    ),
    "usage.pki": Choice(
        "Usage:\n  pki list\n  pki inspect <filename>\n"
        "  pki csr <key/cert basename> <CN:value> [OU:<value>] [O:<value>] [ST:<value>] "
        "[C:<value>] [subjectAltName:<value>]",
        "Modelled on the published 'backup' usage block; pki csr syntax from S11.",
    ),
    "usage.backup": Choice(
        "Usage:\n  backup snapshot <name>\n  backup rollback <name>\n  backup list",
        "S1 (published verbatim).",
    ),
    # --- outputs not published -----------------------------------------------------------------
    "localnode.done": Choice("", "§1.9: localnode prints nothing in any source."),
    "clear_error.done": Choice("", "§1.8: 'database cluster clear error' output not published."),
    "upgrade_schema.started": Choice(
        "Please wait...\nSchema upgrade started...",
        "§1.8: upgrade_schema's interactive output is not published.",
    ),
    # --- connected call bridges (§1.7: no transcript of connect or of such a node) -----
    "connect.done": Choice(
        "",
        "§1.7: connect's output is not published; like localnode, nothing is printed, no "
        "confirmation is asked (none is documented), and the result is read from status.",
    ),
    "connect.while_clustered": Choice(
        "ERROR: This node is a database cluster member; use 'database cluster remove' first",
        "§1.7: a node is either in the database cluster or connected to it (S2); what connect "
        "does on a member is not published, so the simulator refuses it.",
    ),
    "connect.no_certs": Choice(
        "ERROR: No database cluster client certificates configured",
        "§1.7/§1.2: a connected node uses the client key/cert and CA of the 3-argument "
        "'database cluster certs'; connect without them is refused (not published).",
    ),
    "status.connected": Choice(
        "Connected",
        "§1.7: a connected node's status is not published. The simulator shows 'Status : "
        "Connected', no 'Nodes:' list, 'Node in use' the master it uses (None when it cannot "
        "reach it or TLS fails), and the three client files under Certificates. The "
        "reference's uncertainty list guesses 'Disabled' instead; the planner accepts either "
        "word for a listed bridge without a 'Nodes:' list (mmp/models.py BRIDGE_STATES) and "
        "fails closed on anything else.",
    ),
    "rule.connected_bridge": Choice(
        "master of the given node's cluster",
        "§1.7: a connected node uses the master of the cluster the address it was given "
        "belongs to, while it reaches that master, its client certificate chains to the "
        "master's CA and the master's server certificate to its CA. 'database cluster certs' "
        "(3 arguments) is accepted while connected (the node has no database service to be "
        "enabled); the bridge keeps using the client files loaded when it connected, and "
        "uses newly loaded ones from the next connect (as U14's copy, one step later).",
    ),
    "pki.list.heading": Choice(
        "User supplied certificates and keys:",
        "§2.3/N1: published in TAC 217320: this heading, then one file name per line.",
    ),
    "pki.list.order": Choice(
        "oldest first",
        "§2.3/N1: TAC 217320's list is not sorted (tac.key, tac.cer, ROOTCA.cer, example.key, "
        "example.csr, tac.csr) and its order is not explained; the simulator lists files in "
        "the order they were last written, so no parser can come to rely on sorted names.",
    ),
    "pki.inspect.key": Choice(
        "File contains a PEM encoded private key\nPrivate-Key: ({bits} bit)",
        "§2.1 shows only a certificate; a key prints its kind and size.",
    ),
    "pki.csr.done": Choice(
        "..............\n......\n"
        "Created key file {name}.key and CSR {name}.csr\n"
        "CSR file {name}.csr ready for download via SFTP",
        "§2.2/N1: published in TAC 217320 (CMS 3.2+), progress-dot lines included; the "
        "number of dots varies with the key generation on a real MMP, the simulator prints "
        "the TAC's.",
    ),
    "backup.list.empty": Choice("No backups", "U12: backup list output is not published."),
    "backup.rollback.prompt": Choice(
        "WARNING!!!\n"
        "Are you sure you wish to restore this backup? (Y/n)\n"
        "The current configuration, certificates and private keys will be overwritten.\n"
        "The system will reboot at the end of this procedure.",
        "U12/S4: rollback overwrites configuration and reboots; its prompt is not published.",
    ),
    "backup.rollback.done": Choice(
        "Restoring backup {name}...\nRebooting...",
        "U12: the session ends as the node reboots.",
    ),
    # --- login (§6) ------------------------------------------------------------------
    "login.password_expired": Choice(
        "Your password has expired and must be changed.\nPlease enter new password: ",
        "§6: passwords expire after six months (S12) and the next login forces a change "
        "(S13; S5: 'the server asks you for a new password'); the words are not published. "
        "The password itself is accepted: the shell asks for a new one instead of showing the "
        "prompt. The reconciler recognises this and the alternatives OpenSSH/PAM print "
        "('You are required to change your password immediately', 'Password expired', "
        "'WARNING: Your password has expired', 'New password:').",
    ),
    "login.password_again": Choice(
        "Please enter new password again: ",
        "§6: S5 'Enter a new password and confirm the new password'; words not published.",
    ),
    "login.password_changed": Choice(
        "Password changed",
        "§6: what follows a successful change is not published; then the prompt.",
    ),
    "login.password_mismatch": Choice(
        "ERROR: Passwords do not match",
        "§6: not published; the session then ends and the password stays expired.",
    ),
    "login.password_expired_exec": Choice(
        "Your password has expired and must be changed.",
        "N2 shows the MMP runs SSH exec requests; what an expired account gets there is not "
        "published: the first line of the login's text, and the command is not run.",
    ),
    # --- terminal -----------------------------------------------------------------------
    "terminal.line_ending": Choice(
        "\r\n on a pty, \n otherwise",
        "U15: line endings are not published; a pty session gets a terminal's CRLF.",
    ),
    "status.never_configured": Choice(
        "Certificates heading with no lines",
        "U5: status of a never-configured node is not published.",
    ),
}


def say(key: str, **values: object) -> str:
    """The chosen text for ``key`` with ``{placeholders}`` filled."""
    return CHOICES[key].text.format(**values)
