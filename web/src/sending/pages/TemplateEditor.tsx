import ArrowBackIcon from "@mui/icons-material/ArrowBack";
import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import MenuItem from "@mui/material/MenuItem";
import Paper from "@mui/material/Paper";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { useSession } from "../../auth";
import { AppLink } from "../../components/AppLink";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Loading } from "../../components/Loading";
import { fullTime } from "../../format";
import { navigate } from "../../router";
import { sending, type Template, errorText } from "../api";
import { errorLocation, parseVariables, TemplatePreview } from "../components/TemplatePreview";

const EXAMPLE_HTML = "<h1>Hello {{ name }}</h1>\n<p>Welcome to {{ company }}.</p>\n";
const mono = {
  style: { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", fontSize: 13 },
  spellCheck: false,
};

export default function TemplateEditor({ id }: { id: number | null }) {
  const { can } = useSession();
  const canEdit = can("emails:send");
  const [template, setTemplate] = useState<Template | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [name, setName] = useState("");
  const [subject, setSubject] = useState(id === null ? "Welcome, {{ name }}" : "");
  const [html, setHtml] = useState(id === null ? EXAMPLE_HTML : "");
  const [text, setText] = useState("");
  const [variables, setVariables] = useState(id === null ? '{\n  "name": "Ada",\n  "company": "Acme"\n}' : "{}");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [revision, setRevision] = useState(0);
  const [deleting, setDeleting] = useState(false);

  const show = useCallback((found: Template, keepVariables = false) => {
    setTemplate(found);
    setName(found.name);
    setSubject(found.subject);
    setHtml(found.html ?? "");
    setText(found.text ?? "");
    if (!keepVariables) setVariables(JSON.stringify(found.sample_variables ?? {}, null, 2));
  }, []);

  useEffect(() => {
    if (id === null) return;
    sending.template(id, version ?? undefined).then(
      (found) => show(found, version !== null),
      (err: unknown) => setError(errorText(err)),
    );
  }, [id, version, show]);

  const parsed = parseVariables(variables);
  const viewingOld = template !== null && template.version !== template.current_version;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (parsed.error) return setError(parsed.error);
    const input = {
      name: name.trim(),
      subject,
      html: html || null,
      text: text || null,
      sample_variables: parsed.value,
    };
    try {
      const answer = id === null ? await sending.createTemplate(input) : await sending.updateTemplate(id, input);
      setSaved(`Saved as version ${answer.version ?? answer.current_version}`);
      setRevision((r) => r + 1);
      if (id === null) navigate(`/sending/templates/${answer.id}`, { replace: true });
      else {
        setVersion(null);
        show(answer, true);
      }
    } catch (err) {
      setError(errorText(err));
    }
  };

  const remove = async () => {
    if (id === null) return;
    try {
      await sending.deleteTemplate(id);
      navigate("/sending/templates");
    } catch (err) {
      setError(errorText(err));
    }
  };

  if (id !== null && template === null) {
    return error ? (
      <Alert severity="error" sx={{ m: 3 }}>
        {error}
      </Alert>
    ) : (
      <Loading label="Loading template" />
    );
  }
  const location = error ? errorLocation(error) : null;
  const readOnly = !canEdit;
  return (
    <Box sx={{ p: { xs: 1.5, sm: 3 } }}>
      <AppLink href="/sending/templates" sx={{ display: "inline-flex", alignItems: "center", gap: 0.5, mb: 1 }}>
        <ArrowBackIcon fontSize="small" /> Templates
      </AppLink>
      <Box sx={{ display: "grid", gap: 2, gridTemplateColumns: { xs: "1fr", lg: "1fr 1fr" }, alignItems: "start" }}>
        <Paper sx={{ p: { xs: 2, sm: 3 } }} component="form" onSubmit={save} aria-label="Template">
          <Box sx={{ display: "flex", gap: 1, alignItems: "center", flexWrap: "wrap", mb: 2 }}>
            <Typography component="h1" variant="h5" sx={{ mr: "auto" }}>
              {id === null ? "New template" : template?.name}
            </Typography>
            {template && (
              <TextField
                select
                size="small"
                label="Version"
                value={template.version}
                onChange={(e) => setVersion(Number(e.target.value))}
                sx={{ minWidth: 200 }}
              >
                {[...template.versions].reverse().map((v) => (
                  <MenuItem key={v.version} value={v.version}>
                    v{v.version} · {fullTime(v.created_at)}
                    {v.version === template.current_version ? " (current)" : ""}
                  </MenuItem>
                ))}
              </TextField>
            )}
          </Box>
          {viewingOld && (
            <Alert severity="info" sx={{ mb: 2 }}>
              This is version {template?.version}. Saving it makes it version {(template?.current_version ?? 0) + 1}.
            </Alert>
          )}
          {error && (
            <Alert severity="error" sx={{ mb: 2 }} data-testid="save-error">
              {location && <strong>{`${location.part}, line ${location.line}: `}</strong>}
              {error}
            </Alert>
          )}
          {saved && (
            <Alert severity="success" sx={{ mb: 2 }} onClose={() => setSaved(null)}>
              {saved}
            </Alert>
          )}
          <Box sx={{ display: "flex", flexDirection: "column", gap: 2 }}>
            <TextField
              label="Name"
              required
              size="small"
              value={name}
              onChange={(e) => setName(e.target.value)}
              slotProps={{ htmlInput: { readOnly } }}
            />
            <TextField
              label="Subject"
              required
              size="small"
              value={subject}
              onChange={(e) => setSubject(e.target.value)}
              slotProps={{ htmlInput: { readOnly, ...mono } }}
            />
            <TextField
              label="HTML"
              multiline
              minRows={8}
              maxRows={24}
              value={html}
              onChange={(e) => setHtml(e.target.value)}
              error={location?.part === "html"}
              slotProps={{ htmlInput: { readOnly, ...mono } }}
            />
            <TextField
              label="Text"
              multiline
              minRows={3}
              maxRows={16}
              value={text}
              onChange={(e) => setText(e.target.value)}
              error={location?.part === "text"}
              helperText="Leave empty to derive the text part from the HTML"
              slotProps={{ htmlInput: { readOnly, ...mono } }}
            />
            <TextField
              label="Sample variables (JSON)"
              multiline
              minRows={3}
              maxRows={12}
              value={variables}
              onChange={(e) => setVariables(e.target.value)}
              error={Boolean(parsed.error)}
              helperText={parsed.error ?? "Used by the preview, and saved with the template"}
              slotProps={{ htmlInput: mono }}
            />
          </Box>
          {canEdit && (
            <Box sx={{ display: "flex", gap: 1, mt: 2 }}>
              <Button type="submit" variant="contained">
                {id === null ? "Create template" : "Save new version"}
              </Button>
              {id !== null && (
                <Button color="error" onClick={() => setDeleting(true)} sx={{ ml: "auto" }}>
                  Delete
                </Button>
              )}
            </Box>
          )}
        </Paper>
        <Paper sx={{ p: { xs: 2, sm: 3 } }}>
          <Typography component="h2" variant="h6">
            Preview
          </Typography>
          {id === null || !template ? (
            <Typography color="text.secondary">Create the template to preview it.</Typography>
          ) : (
            <>
              <Typography variant="body2" color="text.secondary" gutterBottom>
                Version {template.version} with the sample variables; it follows the variables as you type. Save to
                preview changes to the template itself.
              </Typography>
              <TemplatePreview
                templateId={template.id}
                version={template.version}
                variablesText={variables}
                revision={revision}
              />
            </>
          )}
        </Paper>
      </Box>
      <ConfirmDialog
        open={deleting}
        title="Delete this template?"
        text="Every version goes. Emails already sent with it keep their content."
        confirm="Delete"
        onConfirm={() => void remove()}
        onClose={() => setDeleting(false)}
      />
    </Box>
  );
}
