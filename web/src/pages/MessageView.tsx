import ArrowBackIcon from "@mui/icons-material/ArrowBack";
import DeleteIcon from "@mui/icons-material/DeleteOutlined";
import DownloadIcon from "@mui/icons-material/Download";
import KeyboardArrowDownIcon from "@mui/icons-material/KeyboardArrowDown";
import KeyboardArrowUpIcon from "@mui/icons-material/KeyboardArrowUp";
import MarkunreadIcon from "@mui/icons-material/MarkunreadOutlined";
import SendIcon from "@mui/icons-material/Send";
import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Chip from "@mui/material/Chip";
import Dialog from "@mui/material/Dialog";
import DialogActions from "@mui/material/DialogActions";
import DialogContent from "@mui/material/DialogContent";
import DialogContentText from "@mui/material/DialogContentText";
import DialogTitle from "@mui/material/DialogTitle";
import IconButton from "@mui/material/IconButton";
import Link from "@mui/material/Link";
import Snackbar from "@mui/material/Snackbar";
import Tab from "@mui/material/Tab";
import Tabs from "@mui/material/Tabs";
import TextField from "@mui/material/TextField";
import ToggleButton from "@mui/material/ToggleButton";
import ToggleButtonGroup from "@mui/material/ToggleButtonGroup";
import Typography from "@mui/material/Typography";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { api, authedUrl, type MessageDetail, type MessageSummary, type Part } from "../api";
import { Loading } from "../components/Loading";
import { addressText, formatSize, fullTime } from "../format";
import { DEVICES, type Device, extractLinks, hasRemoteImages, splitRaw } from "../message";

interface Props {
  id: number;
  canWrite: boolean;
  onClose: () => void;
  onDelete: (id: number) => void;
  onStep: (step: number) => void;
  onChanged: (patch: Partial<MessageSummary>) => void;
}

type View = "html" | "text" | "source" | "headers" | "links" | "attachments";
const RAW_SHOWN = 512 * 1024;

function HtmlView({ message }: { message: MessageDetail }) {
  const [device, setDevice] = useState<Device>("desktop");
  const [remote, setRemote] = useState(false);
  const blocked = useMemo(() => hasRemoteImages(message.html), [message.html]);
  const width = DEVICES[device].width;
  return (
    <Box sx={{ display: "flex", flexDirection: "column", flex: 1, minHeight: 0, gap: 1 }}>
      <Box sx={{ display: "flex", alignItems: "center", gap: 1, flexWrap: "wrap" }}>
        <ToggleButtonGroup
          size="small"
          exclusive
          value={device}
          onChange={(_event, value: Device | null) => value && setDevice(value)}
          aria-label="Preview width"
        >
          {(Object.keys(DEVICES) as Device[]).map((key) => (
            <ToggleButton key={key} value={key} aria-label={`${DEVICES[key].label} width`}>
              {DEVICES[key].label}
              {DEVICES[key].width ? ` ${DEVICES[key].width}px` : ""}
            </ToggleButton>
          ))}
        </ToggleButtonGroup>
        {blocked && !remote && (
          <Alert
            severity="info"
            sx={{ py: 0, flex: 1 }}
            action={
              <Button size="small" onClick={() => setRemote(true)}>
                Show images
              </Button>
            }
          >
            Remote images are blocked for this message.
          </Alert>
        )}
      </Box>
      <Box sx={{ flex: 1, minHeight: 420, display: "flex", overflow: "auto" }}>
        <Box
          component="iframe"
          key={remote ? "remote" : "local"}
          title="Message HTML"
          data-testid="html-frame"
          // No allow-scripts, no allow-same-origin: the message can neither run code nor reach the app.
          sandbox="allow-popups allow-popups-to-escape-sandbox"
          referrerPolicy="no-referrer"
          src={authedUrl(`/api/v1/messages/${message.id}/html`, remote ? { remote_images: "true" } : {})}
          sx={{
            width: width ? `${width}px` : "100%",
            flexShrink: 0,
            mx: "auto",
            height: "100%",
            minHeight: 420,
            border: 1,
            borderColor: "divider",
            borderRadius: 1,
            bgcolor: "#fff",
          }}
        />
      </Box>
    </Box>
  );
}

function SourceView({ id }: { id: number }) {
  const [raw, setRaw] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.raw(id).then(setRaw, (err: Error) => setError(err.message));
  }, [id]);
  const lines = useMemo(() => (raw === null ? [] : splitRaw(raw.slice(0, RAW_SHOWN))), [raw]);
  if (error) return <Alert severity="error">{error}</Alert>;
  if (raw === null) return <Loading label="Loading source" />;
  return (
    <Box>
      {raw.length > RAW_SHOWN && (
        <Alert severity="info" sx={{ mb: 1 }}>
          Showing the first {formatSize(RAW_SHOWN)}; download the .eml for all of it.
        </Alert>
      )}
      <Box
        component="pre"
        data-testid="raw-source"
        sx={{
          m: 0,
          p: 1.5,
          fontSize: 12,
          bgcolor: "action.hover",
          borderRadius: 1,
          overflow: "auto",
          whiteSpace: "pre-wrap",
          wordBreak: "break-all",
        }}
      >
        {lines.map((line, index) =>
          line.kind === "header-name" ? (
            <Box component="span" key={index} sx={{ display: "block" }}>
              <Box component="span" sx={{ color: "primary.main", fontWeight: 600 }}>
                {line.name}:
              </Box>
              {line.value}
            </Box>
          ) : (
            <Box
              component="span"
              key={index}
              sx={{ display: "block", color: line.kind === "header-continuation" ? "text.secondary" : undefined }}
            >
              {line.value || "\u00a0"}
            </Box>
          ),
        )}
      </Box>
    </Box>
  );
}

function AttachmentsView({ message }: { message: MessageDetail }) {
  const parts: Part[] = [...message.attachments, ...message.inline];
  if (!parts.length) return <Typography color="text.secondary">No attachments.</Typography>;
  return (
    <Box component="ul" sx={{ listStyle: "none", p: 0, m: 0, display: "grid", gap: 1.5 }}>
      {parts.map((part) => {
        const url = `/api/v1/messages/${message.id}/attachments/${part.index}`;
        return (
          <Box component="li" key={part.index} sx={{ border: 1, borderColor: "divider", borderRadius: 1, p: 1.5 }}>
            <Box sx={{ display: "flex", alignItems: "center", gap: 1, flexWrap: "wrap" }}>
              <Typography sx={{ fontWeight: 600, wordBreak: "break-all" }}>{part.filename}</Typography>
              <Typography variant="body2" color="text.secondary">
                {part.content_type} · {formatSize(part.size)}
                {part.is_inline ? " · inline" : ""}
              </Typography>
              <Button size="small" startIcon={<DownloadIcon />} href={authedUrl(url)} sx={{ ml: "auto" }} download>
                Download
              </Button>
            </Box>
            {part.content_type.startsWith("image/") && (
              <Box
                component="img"
                src={authedUrl(url, { inline: "true" })}
                alt={`Preview of ${part.filename}`}
                loading="lazy"
                sx={{ display: "block", mt: 1, maxWidth: "100%", maxHeight: 320, borderRadius: 1 }}
              />
            )}
          </Box>
        );
      })}
    </Box>
  );
}

function ReleaseDialog({ message, open, onClose }: { message: MessageDetail; open: boolean; onClose: () => void }) {
  const initial = (message.envelope.to.length ? message.envelope.to : message.to.map((a) => a.address)).join(", ");
  const [to, setTo] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api.release(message.id, to.split(/[\s,;]+/).filter(Boolean));
      setDone(`Queued for ${answer.to.join(", ")} (job ${answer.job_id}).`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} aria-labelledby="release-title" fullWidth maxWidth="sm">
      <form onSubmit={submit}>
        <DialogTitle id="release-title">Release this message</DialogTitle>
        <DialogContent>
          <DialogContentText sx={{ mb: 1 }}>
            Relays the exact message through the SMTP server this Postroom is configured with.
          </DialogContentText>
          {error && (
            <Alert severity="error" sx={{ mb: 1 }}>
              {error}
            </Alert>
          )}
          {done && (
            <Alert severity="success" sx={{ mb: 1 }}>
              {done}
            </Alert>
          )}
          <TextField
            label="Recipients"
            helperText="Addresses separated by commas"
            value={to}
            onChange={(event) => setTo(event.target.value)}
            fullWidth
            autoFocus
            margin="dense"
            required
          />
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>{done ? "Close" : "Cancel"}</Button>
          <Button type="submit" variant="contained" disabled={busy || Boolean(done)} startIcon={<SendIcon />}>
            Release
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}

function TagEditor({ message, onTags }: { message: MessageDetail; onTags: (tags: string[]) => void }) {
  const [adding, setAdding] = useState("");
  const add = async (event: FormEvent) => {
    event.preventDefault();
    const tags = adding.split(/[\s,]+/).filter(Boolean);
    if (!tags.length) return;
    const updated = await api.patch(message.id, { add_tags: tags });
    setAdding("");
    onTags(updated.tags);
  };
  return (
    <Box component="form" onSubmit={add} sx={{ display: "flex", gap: 0.5, alignItems: "center", flexWrap: "wrap" }}>
      {message.tags.map((tag) => (
        <Chip
          key={tag}
          size="small"
          label={tag}
          onDelete={() => void api.patch(message.id, { remove_tags: [tag] }).then((m) => onTags(m.tags))}
        />
      ))}
      <TextField
        size="small"
        variant="standard"
        placeholder="add tag"
        value={adding}
        onChange={(event) => setAdding(event.target.value)}
        slotProps={{ htmlInput: { "aria-label": "Add a tag", style: { width: 90, fontSize: 13 } } }}
      />
    </Box>
  );
}

export default function MessageView({ id, canWrite, onClose, onDelete, onStep, onChanged }: Props) {
  const [message, setMessage] = useState<MessageDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [view, setView] = useState<View | null>(null);
  const [releasing, setReleasing] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    api.get(id).then(
      (detail) => {
        if (!current) return;
        setMessage(detail);
        if (!detail.is_read && canWrite) {
          void api.patch(id, { is_read: true }).then(() => onChanged({ is_read: true }));
        }
      },
      (err: Error) => current && setError(err.message),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once per message
  }, [id]);

  const links = useMemo(() => (message ? extractLinks(message.html, message.text) : []), [message]);

  if (error) {
    return (
      <Box sx={{ p: 2 }}>
        <Alert severity="error" action={<Button onClick={onClose}>Back</Button>}>
          {error}
        </Alert>
      </Box>
    );
  }
  if (!message) return <Loading label="Loading message" />;

  const shown: View = view ?? (message.html ? "html" : "text");
  const attachmentCount = message.attachments.length + message.inline.length;
  const setTags = (tags: string[]) => {
    setMessage({ ...message, tags });
    onChanged({ tags });
  };

  return (
    <Box
      component="article"
      aria-labelledby="message-subject"
      sx={{ display: "flex", flexDirection: "column", flex: 1, minHeight: 0, overflow: "auto" }}
    >
      <Box
        sx={{
          display: "flex",
          alignItems: "center",
          gap: 0.5,
          px: 1,
          py: 0.5,
          borderBottom: 1,
          borderColor: "divider",
          flexWrap: "wrap",
        }}
      >
        <IconButton title="Back to the list (Escape)" aria-label="Close message" onClick={onClose}>
          <ArrowBackIcon />
        </IconButton>
        <IconButton title="Newer (k)" aria-label="Newer message" onClick={() => onStep(-1)}>
          <KeyboardArrowUpIcon />
        </IconButton>
        <IconButton title="Older (j)" aria-label="Older message" onClick={() => onStep(1)}>
          <KeyboardArrowDownIcon />
        </IconButton>
        <Box sx={{ flex: 1 }} />
        <IconButton
          title="Download .eml"
          aria-label="Download .eml"
          href={authedUrl(`/api/v1/messages/${id}/raw`, { download: "true" })}
        >
          <DownloadIcon />
        </IconButton>
        {canWrite && (
          <>
            <IconButton
              title="Mark unread"
              aria-label="Mark unread"
              onClick={() =>
                void api.patch(id, { is_read: false }).then(() => {
                  onChanged({ is_read: false });
                  setNotice("Marked unread");
                })
              }
            >
              <MarkunreadIcon />
            </IconButton>
            <Button size="small" startIcon={<SendIcon />} onClick={() => setReleasing(true)}>
              Release
            </Button>
            <IconButton title="Delete (Delete key)" aria-label="Delete message" onClick={() => onDelete(id)}>
              <DeleteIcon />
            </IconButton>
          </>
        )}
      </Box>
      <Box sx={{ px: { xs: 1.5, sm: 2.5 }, pt: 2, pb: 1 }}>
        <Typography id="message-subject" component="h2" variant="h6" sx={{ wordBreak: "break-word" }}>
          {message.subject || "(no subject)"}
        </Typography>
        <Box
          component="dl"
          sx={{
            display: "grid",
            gridTemplateColumns: "auto 1fr",
            columnGap: 1.5,
            rowGap: 0.25,
            my: 1,
            fontSize: 14,
            "& dt": { color: "text.secondary" },
            "& dd": { m: 0, wordBreak: "break-word" },
          }}
        >
          <dt>From</dt>
          <dd>{addressText(message.from)}</dd>
          <dt>To</dt>
          <dd>{message.to.map(addressText).join(", ") || message.envelope.to.join(", ")}</dd>
          {message.cc.length > 0 && (
            <>
              <dt>Cc</dt>
              <dd>{message.cc.map(addressText).join(", ")}</dd>
            </>
          )}
          <dt>Date</dt>
          <dd>
            {fullTime(message.date ?? message.received_at)} · {formatSize(message.size)}
          </dd>
        </Box>
        {canWrite ? (
          <TagEditor message={message} onTags={setTags} />
        ) : (
          message.tags.map((tag) => <Chip key={tag} size="small" label={tag} sx={{ mr: 0.5 }} />)
        )}
      </Box>
      <Tabs
        value={shown}
        onChange={(_event, value: View) => setView(value)}
        variant="scrollable"
        allowScrollButtonsMobile
        aria-label="Message parts"
        sx={{ px: { xs: 0, sm: 1.5 }, borderBottom: 1, borderColor: "divider" }}
      >
        <Tab value="html" label="HTML" disabled={!message.html} />
        <Tab value="text" label="Text" />
        <Tab value="source" label="Source" />
        <Tab value="headers" label="Headers" />
        <Tab value="links" label={`Links (${links.length})`} />
        <Tab value="attachments" label={`Attachments (${attachmentCount})`} />
      </Tabs>
      <Box
        sx={{ p: { xs: 1, sm: 2 }, flex: 1, display: "flex", flexDirection: "column", minHeight: 0 }}
        role="tabpanel"
        aria-label={shown}
      >
        {shown === "html" && <HtmlView message={message} />}
        {shown === "text" &&
          (message.text ? (
            <Box
              component="pre"
              data-testid="text-body"
              sx={{ m: 0, whiteSpace: "pre-wrap", wordBreak: "break-word", fontFamily: "inherit", fontSize: 14 }}
            >
              {message.text}
            </Box>
          ) : (
            <Typography color="text.secondary">This message has no plain-text part.</Typography>
          ))}
        {shown === "source" && <SourceView id={id} />}
        {shown === "headers" && (
          <Box
            component="table"
            sx={{
              borderCollapse: "collapse",
              fontSize: 13,
              "& th, & td": {
                textAlign: "left",
                verticalAlign: "top",
                p: 0.5,
                borderBottom: 1,
                borderColor: "divider",
              },
              "& td": { wordBreak: "break-all" },
            }}
          >
            <thead>
              <tr>
                <th scope="col">Header</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {message.headers.map((header, index) => (
                <tr key={index}>
                  <th scope="row" style={{ whiteSpace: "nowrap" }}>
                    {header.name}
                  </th>
                  <td>{header.value}</td>
                </tr>
              ))}
            </tbody>
          </Box>
        )}
        {shown === "links" &&
          (links.length ? (
            <Box component="ol" sx={{ m: 0, pl: 3, display: "grid", gap: 0.75 }} data-testid="links">
              {links.map((link) => (
                <li key={link.href}>
                  {link.unsafe ? (
                    <Typography component="span" color="error" sx={{ wordBreak: "break-all" }}>
                      {link.href} <Chip size="small" color="error" label="unsafe, not opened" />
                    </Typography>
                  ) : (
                    <Link href={link.href} target="_blank" rel="noopener noreferrer" sx={{ wordBreak: "break-all" }}>
                      {link.href}
                    </Link>
                  )}
                  {link.text && link.text !== link.href && (
                    <Typography variant="body2" color="text.secondary">
                      “{link.text}”
                    </Typography>
                  )}
                </li>
              ))}
            </Box>
          ) : (
            <Typography color="text.secondary">No links.</Typography>
          ))}
        {shown === "attachments" && <AttachmentsView message={message} />}
      </Box>
      {releasing && <ReleaseDialog message={message} open={releasing} onClose={() => setReleasing(false)} />}
      <Snackbar open={notice !== null} autoHideDuration={3000} onClose={() => setNotice(null)} message={notice} />
    </Box>
  );
}
