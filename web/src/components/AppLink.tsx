import Link, { type LinkProps } from "@mui/material/Link";
import type { MouseEvent } from "react";
import { navigate } from "../router";

/** A real link (open in a new tab works) that navigates inside the app on a plain click. */
export function AppLink({ href, onClick, ...rest }: LinkProps & { href: string }) {
  const click = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(href);
  };
  return <Link href={href} onClick={click} {...rest} />;
}
