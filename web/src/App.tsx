import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import { lazy, Suspense } from "react";
import { useSession } from "./auth";
import { Loading } from "./components/Loading";
import { TopBar } from "./components/TopBar";
import { InboxPage } from "./pages/InboxPage";
import { LoginPage } from "./pages/LoginPage";
import { useLocation } from "./router";

// Pages most people rarely open load on demand.
const ProfilePage = lazy(() => import("./pages/ProfilePage"));
const ApiKeysPage = lazy(() => import("./pages/ApiKeysPage"));
const UsersPage = lazy(() => import("./pages/UsersPage"));
const SendingPage = lazy(() => import("./sending/SendingPage"));

function Page() {
  const { path } = useLocation();
  const { can } = useSession();
  if (path === "/profile") return <ProfilePage />;
  if (path === "/api-keys" && can("keys:own")) return <ApiKeysPage />;
  if (path === "/users" && can("users:manage")) return <UsersPage />;
  if ((path === "/sending" || path.startsWith("/sending/")) && can("emails:read")) return <SendingPage />;
  if (path === "/" || path.startsWith("/messages/")) return <InboxPage />;
  return (
    <Box sx={{ p: 4 }}>
      <Alert severity="info" action={<Button href="/">Inbox</Button>}>
        There is nothing at {path}.
      </Alert>
    </Box>
  );
}

export function App() {
  const session = useSession();
  if (!session.ready) return <Loading label="Starting" />;
  if (session.needsLogin) return <LoginPage />;
  if (!session.me) {
    return (
      <Box sx={{ p: 4 }}>
        <Alert severity="error" action={<Button onClick={session.reload}>Retry</Button>}>
          Postroom did not answer: {session.error}
        </Alert>
      </Box>
    );
  }
  return (
    <Box sx={{ height: "100dvh", display: "flex", flexDirection: "column", bgcolor: "background.default" }}>
      <TopBar />
      <Box component="main" sx={{ flex: 1, minHeight: 0, display: "flex", flexDirection: "column" }}>
        <Suspense fallback={<Loading />}>
          <Page />
        </Suspense>
      </Box>
    </Box>
  );
}
