// The console's router (under /console) and links bound to it.
import { Link as BaseLink, createRouter, type LinkProps } from "../ui/router";

export const router = createRouter("/console");

export function Link(props: Omit<LinkProps, "router">) {
  return <BaseLink router={router} {...props} />;
}
