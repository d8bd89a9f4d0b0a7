// The Sending area: one shell with its own tabs; each page loads when first opened.
import SendIcon from "@mui/icons-material/SendOutlined";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Snackbar from "@mui/material/Snackbar";
import Tab from "@mui/material/Tab";
import Tabs from "@mui/material/Tabs";
import { lazy, Suspense, useState } from "react";
import { useSession } from "../auth";
import { Loading } from "../components/Loading";
import { navigate, useLocation } from "../router";
import { SendDialog } from "./components/SendDialog";

const ActivityPage = lazy(() => import("./pages/ActivityPage"));
const EmailDetailPage = lazy(() => import("./pages/EmailDetailPage"));
const OverviewPage = lazy(() => import("./pages/OverviewPage"));
const DeadLettersPage = lazy(() => import("./pages/DeadLettersPage"));
const SuppressionsPage = lazy(() => import("./pages/SuppressionsPage"));
const TemplatesPage = lazy(() => import("./pages/TemplatesPage"));
const TemplateEditor = lazy(() => import("./pages/TemplateEditor"));
const DomainsPage = lazy(() => import("./pages/DomainsPage"));

const TABS = [
  { path: "/sending", label: "Activity" },
  { path: "/sending/overview", label: "Overview" },
  { path: "/sending/templates", label: "Templates" },
  { path: "/sending/suppressions", label: "Suppressions" },
  { path: "/sending/dead-letters", label: "Dead letters" },
  { path: "/sending/domains", label: "Domains" },
];

function tabFor(path: string): string {
  if (path.startsWith("/sending/emails/")) return "/sending";
  const found = TABS.filter((tab) => tab.path !== "/sending" && path.startsWith(tab.path));
  return found[0]?.path ?? "/sending";
}

function Page({ path }: { path: string }) {
  const email = /^\/sending\/emails\/(\d+)$/.exec(path);
  if (email) return <EmailDetailPage id={Number(email[1])} />;
  const template = /^\/sending\/templates\/(\d+|new)$/.exec(path);
  if (template) return <TemplateEditor id={template[1] === "new" ? null : Number(template[1])} />;
  switch (tabFor(path)) {
    case "/sending/overview":
      return <OverviewPage />;
    case "/sending/templates":
      return <TemplatesPage />;
    case "/sending/suppressions":
      return <SuppressionsPage />;
    case "/sending/dead-letters":
      return <DeadLettersPage />;
    case "/sending/domains":
      return <DomainsPage />;
    default:
      return <ActivityPage />;
  }
}

export default function SendingPage() {
  const { path } = useLocation();
  const { can } = useSession();
  const [sendOpen, setSendOpen] = useState(false);
  const [sentId, setSentId] = useState<number | null>(null);
  return (
    <Box sx={{ flex: 1, minHeight: 0, display: "flex", flexDirection: "column" }}>
      <Box
        component="nav"
        aria-label="Sending"
        sx={{
          display: "flex",
          alignItems: "center",
          borderBottom: 1,
          borderColor: "divider",
          bgcolor: "background.paper",
          pr: 1,
        }}
      >
        <Tabs
          value={tabFor(path)}
          onChange={(_, value: string) => navigate(value)}
          variant="scrollable"
          scrollButtons="auto"
          allowScrollButtonsMobile
          aria-label="Sending pages"
          sx={{ flex: 1, minWidth: 0 }}
        >
          {TABS.map((tab) => (
            <Tab
              key={tab.path}
              value={tab.path}
              label={tab.label}
              component="a"
              href={tab.path}
              onClick={(event: React.MouseEvent) => event.preventDefault()}
            />
          ))}
        </Tabs>
        {can("emails:send") && (
          <Button
            variant="contained"
            size="small"
            startIcon={<SendIcon />}
            onClick={() => setSendOpen(true)}
            aria-label="Send test email"
            sx={{ flexShrink: 0, whiteSpace: "nowrap" }}
          >
            <Box component="span" sx={{ display: { xs: "none", sm: "inline" } }}>
              Send test email
            </Box>
            <Box component="span" sx={{ display: { xs: "inline", sm: "none" } }}>
              Send
            </Box>
          </Button>
        )}
      </Box>
      <Box sx={{ flex: 1, minHeight: 0, overflow: "auto" }}>
        <Suspense fallback={<Loading />}>
          <Page path={path} />
        </Suspense>
      </Box>
      {can("emails:send") && (
        <SendDialog open={sendOpen} onClose={() => setSendOpen(false)} onSent={(id) => setSentId(id)} />
      )}
      <Snackbar
        open={sentId !== null}
        autoHideDuration={5000}
        onClose={() => setSentId(null)}
        message={`Email ${sentId ?? ""} accepted`}
        action={
          <Button color="inherit" size="small" onClick={() => sentId && navigate(`/sending/emails/${sentId}`)}>
            Open
          </Button>
        }
      />
    </Box>
  );
}
