import AccountCircle from "@mui/icons-material/AccountCircle";
import AppBar from "@mui/material/AppBar";
import Chip from "@mui/material/Chip";
import IconButton from "@mui/material/IconButton";
import ListItemText from "@mui/material/ListItemText";
import Menu from "@mui/material/Menu";
import MenuItem from "@mui/material/MenuItem";
import Toolbar from "@mui/material/Toolbar";
import { useState } from "react";
import { useSession } from "../auth";
import { navigate } from "../router";
import { AppLink } from "./AppLink";

export function TopBar() {
  const { me, can, logout } = useSession();
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  const go = (to: string) => {
    setAnchor(null);
    navigate(to);
  };
  const who = me?.user?.email ?? (me?.via === "open" ? "open access" : "API key");
  return (
    <AppBar position="static" color="primary" elevation={0}>
      <Toolbar variant="dense" sx={{ gap: 1 }}>
        <AppLink href="/" color="inherit" underline="none" variant="h6" sx={{ fontWeight: 600, mr: "auto" }}>
          Postroom
        </AppLink>
        {can("emails:read") && (
          <AppLink href="/sending" color="inherit" underline="hover" sx={{ fontWeight: 500 }}>
            Sending
          </AppLink>
        )}
        {me && me.tenant.slug !== "default" && (
          <Chip
            size="small"
            label={me.tenant.name}
            sx={{ color: "inherit", borderColor: "currentColor" }}
            variant="outlined"
          />
        )}
        <IconButton
          title={`Account: ${who}`}
          color="inherit"
          aria-label="Account menu"
          aria-haspopup="menu"
          aria-controls={anchor ? "account-menu" : undefined}
          onClick={(event) => setAnchor(event.currentTarget)}
        >
          <AccountCircle />
        </IconButton>
        <Menu id="account-menu" anchorEl={anchor} open={Boolean(anchor)} onClose={() => setAnchor(null)}>
          <MenuItem disabled>
            <ListItemText primary={who} secondary={me?.role.replace("_", " ")} />
          </MenuItem>
          <MenuItem onClick={() => go("/")}>Inbox</MenuItem>
          {can("emails:read") && <MenuItem onClick={() => go("/sending")}>Sending</MenuItem>}
          <MenuItem onClick={() => go("/profile")}>Profile</MenuItem>
          {can("keys:own") && <MenuItem onClick={() => go("/api-keys")}>API keys</MenuItem>}
          {can("users:manage") && <MenuItem onClick={() => go("/users")}>Users</MenuItem>}
          {me?.via === "jwt" && (
            <MenuItem
              onClick={() => {
                setAnchor(null);
                void logout().then(() => navigate("/"));
              }}
            >
              Log out
            </MenuItem>
          )}
        </Menu>
      </Toolbar>
    </AppBar>
  );
}
