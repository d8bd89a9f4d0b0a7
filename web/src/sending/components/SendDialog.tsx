import Alert from "@mui/material/Alert";
import Button from "@mui/material/Button";
import Dialog from "@mui/material/Dialog";
import DialogActions from "@mui/material/DialogActions";
import DialogContent from "@mui/material/DialogContent";
import DialogTitle from "@mui/material/DialogTitle";
import MenuItem from "@mui/material/MenuItem";
import Tab from "@mui/material/Tab";
import Tabs from "@mui/material/Tabs";
import TextField from "@mui/material/TextField";
import { type FormEvent, useEffect, useState } from "react";
import { type SendInput, sending, type TemplateSummary, errorText } from "../api";
import { parseVariables } from "./TemplatePreview";

type Mode = "text" | "html" | "template";

function addresses(text: string): string[] {
  return text
    .split(/[,;\n]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

interface Props {
  open: boolean;
  onClose: () => void;
  onSent: (id: number) => void;
}

export function SendDialog({ open, onClose, onSent }: Props) {
  const [from, setFrom] = useState("Postroom <postroom@example.com>");
  const [to, setTo] = useState("");
  const [subject, setSubject] = useState("Test email from Postroom");
  const [mode, setMode] = useState<Mode>("text");
  const [body, setBody] = useState("Hello from Postroom.");
  const [templates, setTemplates] = useState<TemplateSummary[] | null>(null);
  const [templateId, setTemplateId] = useState<number | "">("");
  const [variables, setVariables] = useState("{}");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!open || mode !== "template" || templates !== null) return;
    sending.templates().then(
      (answer) => setTemplates(answer.items),
      (err: unknown) => setError(errorText(err)),
    );
  }, [open, mode, templates]);

  const parsed = parseVariables(variables);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const input: SendInput = { from: from.trim(), to: addresses(to) };
    if (mode === "template") {
      if (templateId === "") return setError("Choose a template.");
      if (parsed.error) return setError(parsed.error);
      input.template_id = templateId;
      input.variables = parsed.value ?? {};
      if (subject.trim()) input.subject = subject;
    } else {
      input.subject = subject;
      input[mode] = body;
    }
    setBusy(true);
    try {
      const answer = await sending.send(input);
      onSent(answer.id);
      setTo("");
      onClose();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} onClose={onClose} aria-labelledby="send-title" fullWidth maxWidth="sm">
      <form onSubmit={submit} aria-label="Send test email">
        <DialogTitle id="send-title">Send test email</DialogTitle>
        <DialogContent sx={{ display: "flex", flexDirection: "column", gap: 2, pt: "8px !important" }}>
          {error && <Alert severity="error">{error}</Alert>}
          <TextField label="From" required value={from} onChange={(e) => setFrom(e.target.value)} size="small" />
          <TextField
            label="To"
            required
            value={to}
            onChange={(e) => setTo(e.target.value)}
            size="small"
            helperText="One or more addresses, separated by commas"
          />
          <TextField
            label="Subject"
            required={mode !== "template"}
            value={subject}
            onChange={(e) => setSubject(e.target.value)}
            size="small"
            helperText={mode === "template" ? "Leave empty to use the template's subject" : undefined}
          />
          <Tabs value={mode} onChange={(_, value: Mode) => setMode(value)} aria-label="Content">
            <Tab value="text" label="Text" />
            <Tab value="html" label="HTML" />
            <Tab value="template" label="Template" />
          </Tabs>
          {mode === "template" ? (
            <>
              <TextField
                select
                label="Template"
                size="small"
                value={templateId}
                onChange={(e) => setTemplateId(Number(e.target.value))}
                helperText={templates?.length === 0 ? "No templates yet: create one under Templates." : undefined}
              >
                {(templates ?? []).map((template) => (
                  <MenuItem key={template.id} value={template.id}>
                    {template.name} (v{template.current_version})
                  </MenuItem>
                ))}
              </TextField>
              <TextField
                label="Variables (JSON)"
                multiline
                minRows={3}
                value={variables}
                onChange={(e) => setVariables(e.target.value)}
                error={Boolean(parsed.error)}
                helperText={parsed.error ?? undefined}
                slotProps={{ htmlInput: { style: { fontFamily: "monospace" }, spellCheck: false } }}
              />
            </>
          ) : (
            <TextField
              label={mode === "html" ? "HTML body" : "Text body"}
              multiline
              minRows={5}
              required
              value={body}
              onChange={(e) => setBody(e.target.value)}
              slotProps={{ htmlInput: { style: { fontFamily: mode === "html" ? "monospace" : undefined } } }}
            />
          )}
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="contained" disabled={busy}>
            Send
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
