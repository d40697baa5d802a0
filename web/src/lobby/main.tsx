import { render } from "preact";

render(<main><h1>Croupier</h1></main>, document.getElementById("app")!);
