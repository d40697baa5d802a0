import { Page } from "../../ui/components";
import { Link } from "../nav";

export function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        There is nothing here. <Link to="/">Back to the games</Link>
      </p>
    </Page>
  );
}
