import ContentCopyIcon from "@mui/icons-material/ContentCopy";
import DeleteIcon from "@mui/icons-material/DeleteOutlined";
import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Chip from "@mui/material/Chip";
import IconButton from "@mui/material/IconButton";
import MenuItem from "@mui/material/MenuItem";
import Paper from "@mui/material/Paper";
import Snackbar from "@mui/material/Snackbar";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { useSession } from "../../auth";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Loading } from "../../components/Loading";
import { fullTime } from "../../format";
import {
  type DomainCheck,
  PROVIDERS,
  type RecordCheck,
  sending,
  type SendingDomain,
  type TransportSetting,
  errorText,
} from "../api";
import { PageFrame } from "../components/PageFrame";

const CHECK_TONE = { found: "success", missing: "warning", invalid: "error", error: "error" } as const;

function CopyField({
  label,
  value,
  what,
  onCopied,
}: {
  label: string;
  value: string;
  what: string;
  onCopied: () => void;
}) {
  return (
    <Box sx={{ display: "flex", alignItems: "flex-start", gap: 0.5, minWidth: 0 }}>
      <Box sx={{ minWidth: 0, flex: 1 }}>
        <Typography variant="caption" color="text.secondary" component="div">
          {label}
        </Typography>
        <Typography
          component="code"
          sx={{ fontFamily: "monospace", fontSize: 12, wordBreak: "break-all", display: "block" }}
        >
          {value}
        </Typography>
      </Box>
      <IconButton
        size="small"
        aria-label={`Copy the ${what} record ${label.toLowerCase()}`}
        onClick={() => void navigator.clipboard?.writeText(value).then(onCopied, onCopied)}
      >
        <ContentCopyIcon fontSize="small" />
      </IconButton>
    </Box>
  );
}

function CheckRow({ check, onCopied }: { check: RecordCheck; onCopied: () => void }) {
  return (
    <Box sx={{ py: 1, borderTop: 1, borderColor: "divider" }} data-testid={`check-${check.kind}`}>
      <Box sx={{ display: "flex", gap: 1, alignItems: "center", mb: 0.5 }}>
        <Typography sx={{ fontWeight: 600, textTransform: "uppercase", minWidth: 64 }}>{check.kind}</Typography>
        <Chip
          size="small"
          color={CHECK_TONE[check.status]}
          label={check.status}
          aria-label={`${check.kind} ${check.status}`}
        />
      </Box>
      {check.problems.map((problem) => (
        <Typography key={problem} variant="body2" color="error">
          {problem}
        </Typography>
      ))}
      {check.found.length > 0 && (
        <Typography variant="body2" sx={{ wordBreak: "break-all" }}>
          Published: <code>{check.found.join(" | ")}</code>
        </Typography>
      )}
      {check.status !== "found" && (
        <Box sx={{ display: "grid", gap: 0.5, mt: 0.5 }}>
          <CopyField label="Name" value={check.name} what={check.kind.toUpperCase()} onCopied={onCopied} />
          <CopyField label="Value" value={check.expected} what={check.kind.toUpperCase()} onCopied={onCopied} />
        </Box>
      )}
    </Box>
  );
}

function DomainCard({
  domain,
  admin,
  onChanged,
  onCopied,
  onError,
}: {
  domain: SendingDomain;
  admin: boolean;
  onChanged: () => void;
  onCopied: () => void;
  onError: (message: string) => void;
}) {
  const [check, setCheck] = useState<DomainCheck | null>(null);
  const [checking, setChecking] = useState(false);
  const [confirm, setConfirm] = useState<"rotate" | "remove" | null>(null);
  const active = domain.keys.find((key) => key.active) ?? domain.keys[0];
  const runCheck = async () => {
    setChecking(true);
    try {
      setCheck(await sending.check(domain.domain));
    } catch (err) {
      onError(errorText(err));
    } finally {
      setChecking(false);
    }
  };
  const act = async () => {
    try {
      if (confirm === "rotate") await sending.rotate(domain.domain);
      else await sending.removeDomain(domain.domain);
      setCheck(null);
      onChanged();
    } catch (err) {
      onError(errorText(err));
    }
  };
  return (
    <Paper sx={{ p: { xs: 2, sm: 2.5 } }} aria-label={`Domain ${domain.domain}`} role="region">
      <Box sx={{ display: "flex", gap: 1, alignItems: "center", flexWrap: "wrap", mb: 1 }}>
        <Typography component="h2" variant="h6" sx={{ mr: "auto", wordBreak: "break-all" }}>
          {domain.domain}
        </Typography>
        {check && (
          <Chip
            color={check.ok ? "success" : "warning"}
            label={check.ok ? "All records found" : "Records to publish"}
            size="small"
          />
        )}
        {admin && (
          <>
            <Button size="small" variant="outlined" onClick={() => void runCheck()} disabled={checking}>
              {checking ? "Checking…" : "Check DNS"}
            </Button>
            <Button size="small" onClick={() => setConfirm("rotate")}>
              Rotate DKIM key
            </Button>
            <IconButton size="small" aria-label={`Remove ${domain.domain}`} onClick={() => setConfirm("remove")}>
              <DeleteIcon fontSize="small" />
            </IconButton>
          </>
        )}
      </Box>
      {active && (
        <>
          <Typography variant="body2" color="text.secondary" gutterBottom>
            DKIM selector <code>{active.selector}</code> ({active.algorithm}), created {fullTime(active.created_at)}.
            Publish this TXT record:
          </Typography>
          <Box sx={{ display: "grid", gap: 1, mb: 1 }}>
            <CopyField label="Name" value={active.dns.name} what="DKIM" onCopied={onCopied} />
            <CopyField label="Value" value={active.dns.value} what="DKIM" onCopied={onCopied} />
          </Box>
        </>
      )}
      {domain.keys.length > 1 && (
        <Typography variant="caption" color="text.secondary" component="div" sx={{ mb: 1 }}>
          Older selectors still published:{" "}
          {domain.keys
            .filter((k) => k !== active)
            .map((k) => k.selector)
            .join(", ")}
        </Typography>
      )}
      {check && (
        <Box aria-label={`DNS check of ${domain.domain}`} role="region" sx={{ mt: 1 }}>
          {check.records.map((record) => (
            <CheckRow key={record.kind} check={record} onCopied={onCopied} />
          ))}
        </Box>
      )}
      <ConfirmDialog
        open={confirm !== null}
        title={confirm === "rotate" ? `Rotate the DKIM key of ${domain.domain}?` : `Remove ${domain.domain}?`}
        text={
          confirm === "rotate"
            ? "A new key under a new selector signs from now on; publish its record. The old record can go once mail signed with it has arrived."
            : "Mail from this domain is no longer DKIM-signed and its keys are dropped."
        }
        confirm={confirm === "rotate" ? "Rotate" : "Remove"}
        onConfirm={() => void act()}
        onClose={() => setConfirm(null)}
      />
    </Paper>
  );
}

function TransportSettings({ onError }: { onError: (message: string) => void }) {
  const [settings, setSettings] = useState<{ default_provider: string; items: TransportSetting[] } | null>(null);
  const [domain, setDomain] = useState("");
  const [provider, setProvider] = useState<string>("smtp");
  const [options, setOptions] = useState<{ key: string; value: string }[]>([{ key: "", value: "" }]);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(() => {
    sending.transports().then(setSettings, (err: unknown) => onError(errorText(err)));
  }, [onError]);
  useEffect(load, [load]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const entries = options.filter((o) => o.key.trim()).map((o) => [o.key.trim(), o.value] as const);
    try {
      await sending.saveTransport({ domain: domain.trim(), provider, options: Object.fromEntries(entries) });
      setOptions([{ key: "", value: "" }]);
      setNotice(`Saved: ${domain.trim() || "all mail"} goes through ${provider}`);
      load();
    } catch (err) {
      onError(errorText(err));
    }
  };
  const remove = async (target: string) => {
    try {
      await sending.removeTransport(target);
      load();
    } catch (err) {
      onError(errorText(err));
    }
  };

  return (
    <Paper sx={{ p: { xs: 2, sm: 2.5 } }} role="region" aria-label="Transport">
      <Typography component="h2" variant="h6" gutterBottom>
        Transport
      </Typography>
      {!settings ? (
        <Loading label="Loading transports" />
      ) : (
        <>
          <Typography variant="body2" color="text.secondary" gutterBottom>
            Without a setting, mail goes through <strong>{settings.default_provider}</strong>. Options are stored
            encrypted; secrets are never shown again.
          </Typography>
          {settings.items.map((item) => (
            <Box
              key={item.domain}
              data-testid="transport"
              sx={{ display: "flex", gap: 1, alignItems: "center", py: 1, borderTop: 1, borderColor: "divider" }}
            >
              <Box sx={{ flex: 1, minWidth: 0 }}>
                <Typography sx={{ fontWeight: 600 }}>
                  {item.domain || "All mail"} → {item.provider}
                </Typography>
                <Typography variant="caption" color="text.secondary" sx={{ wordBreak: "break-all" }}>
                  {Object.entries(item.options)
                    .map(([key, value]) => `${key}: ${value}`)
                    .join(" · ") || "no options"}
                </Typography>
              </Box>
              <Button size="small" color="error" onClick={() => void remove(item.domain)}>
                Remove
              </Button>
            </Box>
          ))}
          <Box component="form" onSubmit={save} aria-label="Set transport" sx={{ display: "grid", gap: 1.5, mt: 2 }}>
            <Box sx={{ display: "flex", gap: 1, flexWrap: "wrap" }}>
              <TextField
                label="Sender domain"
                size="small"
                value={domain}
                onChange={(e) => setDomain(e.target.value)}
                helperText="Empty: all the tenant's mail"
                sx={{ flex: "1 1 200px" }}
              />
              <TextField
                select
                label="Provider"
                size="small"
                value={provider}
                onChange={(e) => setProvider(e.target.value)}
                sx={{ minWidth: 160 }}
              >
                {PROVIDERS.map((p) => (
                  <MenuItem key={p} value={p}>
                    {p}
                  </MenuItem>
                ))}
              </TextField>
            </Box>
            {options.map((option, index) => (
              <Box key={index} sx={{ display: "flex", gap: 1, flexWrap: "wrap" }}>
                <TextField
                  label="Option"
                  size="small"
                  placeholder="host, api_key, region…"
                  value={option.key}
                  onChange={(e) =>
                    setOptions((all) => all.map((o, i) => (i === index ? { ...o, key: e.target.value } : o)))
                  }
                  sx={{ flex: "1 1 140px" }}
                />
                <TextField
                  label="Value"
                  size="small"
                  type={/key|secret|password|token/i.test(option.key) ? "password" : "text"}
                  autoComplete="off"
                  value={option.value}
                  onChange={(e) =>
                    setOptions((all) => all.map((o, i) => (i === index ? { ...o, value: e.target.value } : o)))
                  }
                  sx={{ flex: "2 1 200px" }}
                />
              </Box>
            ))}
            <Box sx={{ display: "flex", gap: 1 }}>
              <Button onClick={() => setOptions((all) => [...all, { key: "", value: "" }])}>Add option</Button>
              <Button type="submit" variant="contained" sx={{ ml: "auto" }}>
                Save transport
              </Button>
            </Box>
          </Box>
        </>
      )}
      <Snackbar open={notice !== null} autoHideDuration={4000} onClose={() => setNotice(null)} message={notice} />
    </Paper>
  );
}

export default function DomainsPage() {
  const { can } = useSession();
  const admin = can("sending:manage");
  const [domains, setDomains] = useState<SendingDomain[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [copied, setCopied] = useState(false);

  const load = useCallback(() => {
    sending.domains().then(
      (answer) => setDomains(answer.items),
      (err: unknown) => setError(errorText(err)),
    );
  }, []);
  useEffect(load, [load]);

  const add = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await sending.addDomain(name.trim());
      setName("");
      setError(null);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <PageFrame title="Domains">
      {error && (
        <Alert severity="error" sx={{ mb: 2 }} onClose={() => setError(null)}>
          {error}
        </Alert>
      )}
      {admin && (
        <Box
          component="form"
          onSubmit={add}
          aria-label="Add domain"
          sx={{ display: "flex", gap: 1, mb: 2, flexWrap: "wrap" }}
        >
          <TextField
            label="Sending domain"
            size="small"
            required
            placeholder="mail.example.com"
            value={name}
            onChange={(e) => setName(e.target.value)}
            sx={{ flex: "1 1 240px" }}
          />
          <Button type="submit" variant="contained">
            Add domain
          </Button>
        </Box>
      )}
      <Box sx={{ display: "grid", gap: 2 }}>
        {domains === null ? (
          !error && <Loading label="Loading domains" />
        ) : domains.length === 0 ? (
          <Paper sx={{ p: 4, textAlign: "center" }}>
            <Typography color="text.secondary">
              No sending domains. Add one to sign its mail with DKIM and see the DNS records to publish.
            </Typography>
          </Paper>
        ) : (
          domains.map((domain) => (
            <DomainCard
              key={domain.domain}
              domain={domain}
              admin={admin}
              onChanged={load}
              onCopied={() => setCopied(true)}
              onError={setError}
            />
          ))
        )}
        {admin && <TransportSettings onError={setError} />}
      </Box>
      <Snackbar open={copied} autoHideDuration={2000} onClose={() => setCopied(false)} message="Copied" />
    </PageFrame>
  );
}
