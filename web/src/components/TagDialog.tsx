import Button from "@mui/material/Button";
import Dialog from "@mui/material/Dialog";
import DialogActions from "@mui/material/DialogActions";
import DialogContent from "@mui/material/DialogContent";
import DialogTitle from "@mui/material/DialogTitle";
import TextField from "@mui/material/TextField";
import { type FormEvent, useState } from "react";

interface Props {
  open: boolean;
  count: number;
  onTag: (tags: string[]) => void;
  onClose: () => void;
}

export function TagDialog({ open, count, onTag, onClose }: Props) {
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const tags = text.split(/[\s,]+/).filter(Boolean);
    if (tags.length) onTag(tags);
    setText("");
    onClose();
  };
  return (
    <Dialog open={open} onClose={onClose} aria-labelledby="tag-title">
      <form onSubmit={submit}>
        <DialogTitle id="tag-title">
          Tag {count} message{count === 1 ? "" : "s"}
        </DialogTitle>
        <DialogContent>
          <TextField
            autoFocus
            label="Tags"
            helperText="Separate tags with spaces or commas"
            value={text}
            onChange={(event) => setText(event.target.value)}
            fullWidth
            margin="dense"
          />
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="contained">
            Add tags
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
