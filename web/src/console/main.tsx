import { render } from "preact";

render(<main><h1>Croupier console</h1></main>, document.getElementById("app")!);
