import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Chip from "@mui/material/Chip";
import LinearProgress from "@mui/material/LinearProgress";
import Typography from "@mui/material/Typography";
import { useEffect, useState } from "react";
import { type Preview, sending, errorText } from "../api";

/** Parses the sample-variables box: an object, or the reason it is not one. */
export function parseVariables(text: string): { value: Record<string, unknown> | null; error: string | null } {
  if (!text.trim()) return { value: null, error: null };
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { value: null, error: 'Variables must be a JSON object, like {"name": "Ada"}.' };
    }
    return { value: value as Record<string, unknown>, error: null };
  } catch (err) {
    return { value: null, error: `Variables are not valid JSON: ${errorText(err)}` };
  }
}

/** "html line 3: ..." in a template error: the part and line it names, if any. */
export function errorLocation(message: string): { part: string; line: number } | null {
  const match = /\b(subject|html|text) line (\d+):/.exec(message);
  return match ? { part: match[1], line: Number(match[2]) } : null;
}

interface Props {
  templateId: number;
  version?: number;
  variablesText: string;
  /** Bumped by the editor after a save, so the preview renders the new version. */
  revision?: number;
  delayMs?: number;
}

export function TemplatePreview({ templateId, version, variablesText, revision = 0, delayMs = 300 }: Props) {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const parsed = parseVariables(variablesText);

  useEffect(() => {
    if (parsed.error) return;
    let current = true;
    const timer = setTimeout(() => {
      setBusy(true);
      sending
        .preview(templateId, parsed.value ?? {}, version)
        .then(
          (answer) => {
            if (!current) return;
            setPreview(answer);
            setError(null);
          },
          (err: unknown) => current && setError(errorText(err)),
        )
        .finally(() => current && setBusy(false));
    }, delayMs);
    return () => {
      current = false;
      clearTimeout(timer);
    };
    // parsed.value is derived from variablesText: re-render on the text, not the object.
  }, [templateId, version, variablesText, revision, delayMs, parsed.error]);

  const location = error ? errorLocation(error) : null;
  return (
    <Box aria-label="Template preview" role="region" sx={{ display: "flex", flexDirection: "column", gap: 1 }}>
      <Box sx={{ height: 4 }}>{busy && <LinearProgress aria-label="Rendering preview" />}</Box>
      {parsed.error && <Alert severity="warning">{parsed.error}</Alert>}
      {error && (
        <Alert severity="error" data-testid="preview-error">
          {location && <strong>{`${location.part}, line ${location.line}: `}</strong>}
          {error}
        </Alert>
      )}
      {preview && preview.missing_variables.length > 0 && (
        <Box sx={{ display: "flex", gap: 0.5, flexWrap: "wrap", alignItems: "center" }} data-testid="missing-variables">
          <Typography variant="body2" color="warning.main">
            Missing variables:
          </Typography>
          {preview.missing_variables.map((name) => (
            <Chip key={name} size="small" color="warning" variant="outlined" label={name} />
          ))}
        </Box>
      )}
      {preview && (
        <>
          <Typography variant="subtitle2" data-testid="preview-subject">
            Subject: {preview.subject}
          </Typography>
          {preview.html ? (
            <Box
              component="iframe"
              title="Rendered HTML"
              data-testid="preview-frame"
              sandbox=""
              srcDoc={preview.html}
              sx={{
                width: "100%",
                minHeight: 320,
                border: 1,
                borderColor: "divider",
                borderRadius: 1,
                bgcolor: "#fff",
              }}
            />
          ) : null}
          {preview.text ? (
            <Box
              component="pre"
              data-testid="preview-text"
              sx={{
                m: 0,
                p: 1.5,
                whiteSpace: "pre-wrap",
                fontSize: 13,
                border: 1,
                borderColor: "divider",
                borderRadius: 1,
                maxHeight: 240,
                overflow: "auto",
              }}
            >
              {preview.text}
            </Box>
          ) : null}
        </>
      )}
    </Box>
  );
}
