import AddIcon from "@mui/icons-material/Add";
import Alert from "@mui/material/Alert";
import Button from "@mui/material/Button";
import List from "@mui/material/List";
import ListItemButton from "@mui/material/ListItemButton";
import ListItemText from "@mui/material/ListItemText";
import Paper from "@mui/material/Paper";
import Typography from "@mui/material/Typography";
import { useEffect, useState } from "react";
import { useSession } from "../../auth";
import { Loading } from "../../components/Loading";
import { relativeTime } from "../../format";
import { navigate } from "../../router";
import { sending, type TemplateSummary, errorText } from "../api";
import { PageFrame } from "../components/PageFrame";

export default function TemplatesPage() {
  const { can } = useSession();
  const [items, setItems] = useState<TemplateSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    sending.templates().then(
      (answer) => setItems(answer.items),
      (err: unknown) => setError(errorText(err)),
    );
  }, []);
  return (
    <PageFrame
      title="Templates"
      actions={
        can("emails:send") && (
          <Button variant="contained" startIcon={<AddIcon />} onClick={() => navigate("/sending/templates/new")}>
            New template
          </Button>
        )
      }
    >
      {error && <Alert severity="error">{error}</Alert>}
      {items === null ? (
        !error && <Loading label="Loading templates" />
      ) : items.length === 0 ? (
        <Paper sx={{ p: 4, textAlign: "center" }}>
          <Typography color="text.secondary">
            No templates yet. A template keeps a subject and body with {"{{ variables }}"}, versioned on every save.
          </Typography>
        </Paper>
      ) : (
        <Paper>
          <List aria-label="Templates" disablePadding>
            {items.map((template) => (
              <ListItemButton
                key={template.id}
                divider
                component="a"
                href={`/sending/templates/${template.id}`}
                onClick={(event: React.MouseEvent) => {
                  if (event.button !== 0 || event.metaKey || event.ctrlKey) return;
                  event.preventDefault();
                  navigate(`/sending/templates/${template.id}`);
                }}
              >
                <ListItemText
                  primary={template.name}
                  secondary={`#${template.id} · version ${template.current_version} · changed ${relativeTime(template.updated_at)}`}
                />
              </ListItemButton>
            ))}
          </List>
        </Paper>
      )}
    </PageFrame>
  );
}
