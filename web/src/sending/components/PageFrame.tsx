import Box from "@mui/material/Box";
import Typography from "@mui/material/Typography";
import type { ReactNode } from "react";

/** The common frame of a Sending page: a heading, optional actions, then the content. */
export function PageFrame({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <Box sx={{ p: { xs: 1.5, sm: 3 }, maxWidth: 1200, mx: "auto" }}>
      <Box sx={{ display: "flex", alignItems: "center", gap: 1, mb: 2, flexWrap: "wrap" }}>
        <Typography component="h1" variant="h5" sx={{ mr: "auto" }}>
          {title}
        </Typography>
        {actions}
      </Box>
      {children}
    </Box>
  );
}
