import SearchIcon from "@mui/icons-material/Search";
import Box from "@mui/material/Box";
import InputAdornment from "@mui/material/InputAdornment";
import Paper from "@mui/material/Paper";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type KeyboardEvent, type Ref, useId, useRef, useState } from "react";
import { applySuggestion, suggest } from "../search";

interface Props {
  value: string;
  onChange: (value: string) => void;
  tags?: string[];
  inputRef?: Ref<HTMLInputElement>;
}

/** One box for the whole query language, completing operators (and known tags) at the caret. */
export function SearchBox({ value, onChange, tags = [], inputRef }: Props) {
  const [caret, setCaret] = useState(value.length);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const own = useRef<HTMLInputElement | null>(null);
  const listId = useId();
  const options = open ? suggest(value, caret, tags) : [];

  const setRefs = (element: HTMLInputElement | null) => {
    own.current = element;
    if (typeof inputRef === "function") inputRef(element);
    else if (inputRef) (inputRef as { current: HTMLInputElement | null }).current = element;
  };

  const choose = (index: number) => {
    const option = options[index];
    if (!option) return;
    const next = applySuggestion(value, caret, option.key);
    onChange(next.text);
    setCaret(next.caret);
    setActive(0);
    requestAnimationFrame(() => own.current?.setSelectionRange(next.caret, next.caret));
  };

  const keyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Escape") {
      if (options.length) setOpen(false);
      else own.current?.blur();
      event.preventDefault();
      return;
    }
    if (!options.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((current) => (current + step + options.length) % options.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(active);
    }
  };

  return (
    <Box sx={{ position: "relative", flex: 1, minWidth: 0 }}>
      <TextField
        value={value}
        size="small"
        fullWidth
        placeholder="Search  from: subject: tag: is:unread…"
        inputRef={setRefs}
        onChange={(event) => {
          onChange(event.target.value);
          setCaret(event.target.selectionStart ?? event.target.value.length);
          setOpen(true);
          setActive(0);
        }}
        onKeyDown={keyDown}
        onKeyUp={(event) => setCaret((event.target as HTMLInputElement).selectionStart ?? value.length)}
        onClick={(event) => setCaret((event.target as HTMLInputElement).selectionStart ?? value.length)}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        slotProps={{
          htmlInput: {
            role: "combobox",
            "aria-label": "Search messages",
            "aria-autocomplete": "list",
            "aria-expanded": options.length > 0,
            "aria-controls": options.length ? listId : undefined,
            "aria-activedescendant": options.length ? `${listId}-${active}` : undefined,
            spellCheck: false,
            autoComplete: "off",
            type: "search",
          },
          input: {
            startAdornment: (
              <InputAdornment position="start">
                <SearchIcon fontSize="small" />
              </InputAdornment>
            ),
          },
        }}
      />
      {options.length > 0 && (
        <Paper
          id={listId}
          role="listbox"
          aria-label="Search operators"
          elevation={8}
          sx={{
            position: "absolute",
            zIndex: 1300,
            left: 0,
            right: 0,
            mt: 0.5,
            py: 0.5,
            maxHeight: 320,
            overflow: "auto",
          }}
        >
          {options.map((option, index) => (
            <Box
              key={option.key}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              onMouseDown={(event) => {
                event.preventDefault();
                choose(index);
              }}
              onMouseEnter={() => setActive(index)}
              sx={{
                px: 2,
                py: 0.75,
                cursor: "pointer",
                display: "flex",
                gap: 2,
                alignItems: "baseline",
                bgcolor: index === active ? "action.selected" : undefined,
              }}
            >
              <Typography component="span" sx={{ fontFamily: "monospace", fontWeight: 600 }}>
                {option.key}
              </Typography>
              <Typography component="span" variant="body2" color="text.secondary" noWrap>
                {option.help}
              </Typography>
            </Box>
          ))}
        </Paper>
      )}
    </Box>
  );
}
