// Who is signed in, and what their role lets the UI offer.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from "react";
import { api, ApiError, getTokens, type Me, onTokensChange, setTokens } from "./api";

export interface Session {
  me: Me | null;
  /** false until /auth/me has answered once. */
  ready: boolean;
  needsLogin: boolean;
  error: string | null;
  can: (permission: string) => boolean;
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  reload: () => void;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);
  const [needsLogin, setNeedsLogin] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(() => {
    api
      .me()
      .then((answer) => {
        setMe(answer);
        setNeedsLogin(false);
        setError(null);
      })
      .catch((err: unknown) => {
        setMe(null);
        if (err instanceof ApiError && err.status === 401) setNeedsLogin(true);
        else setError(err instanceof Error ? err.message : String(err));
      })
      .finally(() => setReady(true));
  }, []);

  useEffect(() => {
    reload();
    return onTokensChange(() => {
      if (!getTokens()) reload();
    });
  }, [reload]);

  const login = useCallback(
    async (email: string, password: string) => {
      setTokens(await api.login(email, password));
      reload();
    },
    [reload],
  );

  const logout = useCallback(async () => {
    const tokens = getTokens();
    if (tokens) await api.logout(tokens.refresh_token).catch(() => undefined);
    setTokens(null);
  }, []);

  const can = useCallback((permission: string) => Boolean(me?.permissions.includes(permission)), [me]);

  return (
    <SessionContext.Provider value={{ me, ready, needsLogin, error, can, login, logout, reload }}>
      {children}
    </SessionContext.Provider>
  );
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
