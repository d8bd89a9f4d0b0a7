import { createTheme } from "@mui/material/styles";

// Light and dark follow the system (prefers-color-scheme) through CSS variables.
export const theme = createTheme({
  cssVariables: { colorSchemeSelector: "media" },
  colorSchemes: {
    light: { palette: { primary: { main: "#1565c0" }, background: { default: "#f6f7f9" } } },
    dark: { palette: { primary: { main: "#90caf9" }, background: { default: "#121418", paper: "#1a1d23" } } },
  },
  shape: { borderRadius: 8 },
  typography: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif' },
});
